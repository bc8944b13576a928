// Checks the package layering by reading every import of the published packages' src/ with the
// TypeScript parser (static imports, `export … from`, dynamic `import()`):
//   1. layers:  no file in packages/*/src or backends/*/src imports @dsa/runtime or
//               @dsa/backend-reference, unless it is the runtime's own code or a test;
//   2. backends: backends/*/src never imports a layer package (@dsa/indexer, @dsa/mla, @dsa/moe) or
//               @dsa/runtime (tests included: the exceptions are listed in BACKEND_TEST_EXCEPTIONS);
//   3. runtime: packages/runtime/src never imports a backend package (@dsa/backend-*) statically, tests aside;
//   4. apps:    apps/*/src uses backends only through @dsa/backend (no @dsa/backend-* import), tests aside.
// Unpublished folders (check/, bench/, dev/, emulator/, scripts/) are not read.
// Usage: node tools/check-imports.mjs [root]   (prints one line per violation; exit 1 when any)
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

const LAYERS = ['@dsa/indexer', '@dsa/mla', '@dsa/moe'];
const BACKEND_PACKAGE = /^@dsa\/backend-/;

/**
 * Backend tests that still import the runtime: they run whole models on the backend. (Fused kernels
 * are checked against the composites beside the contract, through the conformance kit.) A listed
 * import that is gone is reported too, so the list only shrinks.
 */
export const BACKEND_TEST_EXCEPTIONS = [
  ['backends/ascend/src/fixtures.test.ts', '@dsa/runtime'],
  ['backends/cpu/src/bf16-precision.test.ts', '@dsa/runtime'],
  ['backends/cpu/src/determinism.test.ts', '@dsa/runtime'],
];

/** The module specifiers `file` imports: `{ specifier, dynamic, line }` for each. */
export function importsOf(file, text = fs.readFileSync(file, 'utf8')) {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found = [];
  const add = (node, literal, dynamic) => {
    if (!literal || !ts.isStringLiteralLike(literal)) return;
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    found.push({ specifier: literal.text, dynamic, line });
  };
  const visit = (node) => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node, node.moduleSpecifier, false);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
      add(node, node.arguments[0], true);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** `.ts`/`.mts` files below `dir`, as paths relative to `root` with `/` separators. */
function sources(root, dir) {
  const out = [];
  const walk = (d) => {
    if (!fs.existsSync(d)) return;
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'dist') walk(full);
      } else if (/\.m?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        out.push(path.relative(root, full).split(path.sep).join('/'));
      }
    }
  };
  walk(path.join(root, dir));
  return out;
}

const isTest = (file) => /\.(test|bench)\.m?ts$/.test(file);
const packageOf = (spec) => spec.split('/').slice(0, 2).join('/');

/** The rule `file`'s import of `specifier` breaks, or null. */
function ruleBroken(file, specifier, dynamic) {
  const [area, name] = file.split('/');
  const target = packageOf(specifier);
  const test = isTest(file);
  if (area === 'backends' && (LAYERS.includes(target) || target === '@dsa/runtime'))
    return 'backends never import layer packages or the runtime';
  if (
    (area === 'packages' || area === 'backends') &&
    !(area === 'packages' && name === 'runtime') &&
    !test &&
    (target === '@dsa/runtime' || target === '@dsa/backend-reference')
  )
    return 'only the runtime and tests import @dsa/runtime or @dsa/backend-reference';
  if (area === 'packages' && name === 'runtime' && !test && !dynamic && BACKEND_PACKAGE.test(target))
    return 'the runtime never imports a backend statically';
  if (area === 'apps' && !test && BACKEND_PACKAGE.test(target))
    return 'apps use backends only through @dsa/backend';
  return null;
}

/** Every violation under `root`: `{ file, line, specifier, rule }`, and stale exceptions. */
export function checkImports(root, exceptions = BACKEND_TEST_EXCEPTIONS) {
  const violations = [];
  const used = new Set();
  const files = ['packages', 'backends', 'apps'].flatMap((area) =>
    fs.existsSync(path.join(root, area))
      ? fs.readdirSync(path.join(root, area)).flatMap((name) => sources(root, `${area}/${name}/src`))
      : [],
  );
  for (const file of files) {
    for (const { specifier, dynamic, line } of importsOf(path.join(root, file))) {
      const rule = ruleBroken(file, specifier, dynamic);
      if (!rule) continue;
      const key = exceptions.findIndex(([f, s]) => f === file && s === packageOf(specifier));
      if (key >= 0 && isTest(file)) {
        used.add(key);
        continue;
      }
      violations.push({ file, line, specifier, rule });
    }
  }
  exceptions.forEach(([file, specifier], i) => {
    if (!used.has(i))
      violations.push({ file, line: 0, specifier, rule: 'listed exception no longer needed: remove it' });
  });
  return violations;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const root = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '..'));
  const violations = checkImports(root);
  for (const v of violations) console.log(`${v.file}:${v.line}: ${v.specifier}: ${v.rule}`);
  console.log(`imports: ${violations.length} violation(s)`);
  process.exit(violations.length > 0 ? 1 : 0);
}
