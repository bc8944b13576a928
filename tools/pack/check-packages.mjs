// Packs every publishable package with `pnpm pack`, checks each tarball with publint and
// @arethetypeswrong/cli, prints packed sizes, then installs the tarballs with plain npm into fresh
// projects outside the workspace and runs examples there:
//   1. @dsa/runtime + @dsa/backend-cpu, installed on a PATH with no C/C++ compiler, make or python3 (the
//      prebuilt linux-x64 binary must be picked): examples/generate.mjs on fixtures/tiny must give the
//      repo's tokens on the cpu backend;
//   2. @dsa/indexer + @dsa/backend-reference only: examples/indexer-topk.mjs must match its plain-JS check.
// Usage (after `pnpm build`): node tools/pack/check-packages.mjs
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGES } from './packages.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-packs-'));
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' },
  });
const failures = [];
const tarballs = {};
for (const dir of PACKAGES) {
  const name = JSON.parse(fs.readFileSync(path.join(root, dir, 'package.json'), 'utf8')).name;
  run('pnpm', ['pack', '--pack-destination', out], path.join(root, dir));
  const file = fs
    .readdirSync(out)
    .find(
      (f) =>
        f.startsWith(name.replace('@', '').replace('/', '-') + '-') &&
        !Object.values(tarballs).includes(path.join(out, f)),
    );
  tarballs[name] = path.join(out, file);
  const size = fs.statSync(tarballs[name]).size;
  let lint = 'ok';
  try {
    run(path.join(root, 'node_modules/.bin/publint'), ['run', '--strict', tarballs[name]], root);
  } catch (error) {
    lint = 'FAILED';
    failures.push(`publint ${name}: ${error.stdout}${error.stderr}`);
  }
  let types = 'ok';
  try {
    run(
      path.join(root, 'node_modules/.bin/attw'),
      [tarballs[name], '--profile', 'esm-only', '--format', 'ascii'],
      root,
    );
  } catch (error) {
    types = 'FAILED';
    failures.push(`attw ${name}: ${error.stdout}${error.stderr}`);
  }
  console.log(`${name.padEnd(24)} ${String(size).padStart(8)} B packed  publint ${lint}  attw ${types}`);
}

/**
 * A PATH folder holding only `node`, `npm` and `sh` (links; npm runs scripts through sh): no cc, c++,
 * make or python3, as on a machine without a toolchain. Throws if a compiler is still reachable through it.
 */
function pathWithoutCompiler() {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-nocompiler-'));
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  fs.symlinkSync(
    execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim(),
    path.join(bin, 'npm'),
  );
  const found = execFileSync('/bin/sh', ['-c', 'command -v cc gcc c++ g++ clang make python3 || true'], {
    encoding: 'utf8',
    env: { PATH: bin },
  }).trim();
  if (found) throw new Error(`PATH ${bin} still reaches ${found}`);
  return bin;
}

function consumer(label, deps, example, args, env = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `dsa-consumer-${label}-`));
  const overrides = Object.fromEntries(Object.entries(tarballs).map(([n, f]) => [n, `file:${f}`]));
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify(
      {
        name: `consumer-${label}`,
        private: true,
        type: 'module',
        dependencies: Object.fromEntries(deps.map((d) => [d, `file:${tarballs[d]}`])),
        overrides,
      },
      null,
      2,
    ),
  );
  fs.copyFileSync(path.join(root, 'examples', example), path.join(dir, example));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--foreground-scripts'], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', ...env },
  });
  const installed = fs.readdirSync(path.join(dir, 'node_modules/@dsa')).sort();
  const output = execFileSync(process.execPath, [example, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  }).trim();
  console.log(`consumer ${label}: installed @dsa/{${installed.join(',')}}; ${example} -> ${output}`);
  return { ...JSON.parse(output.split('\n').pop()), dir };
}

try {
  const golden = JSON.parse(fs.readFileSync(path.join(root, 'fixtures/tiny/golden.json'), 'utf8')).decode
    .greedy_tokens;
  const prompt = '1,2,3';
  const expected = JSON.parse(
    run(
      'node',
      [path.join(root, 'examples/generate.mjs'), path.join(root, 'fixtures/tiny'), prompt],
      root,
    ).trim(),
  ).tokens;
  // The native CPU backend comes prebuilt: the consumer's `npm install` runs with no compiler on PATH.
  const bin = pathWithoutCompiler();
  const a = consumer(
    'runtime',
    ['@dsa/runtime', '@dsa/backend', '@dsa/backend-cpu'],
    'generate.mjs',
    [path.join(root, 'fixtures/tiny'), prompt],
    { DSA_BACKEND: 'cpu', PATH: bin },
  );
  fs.rmSync(bin, { recursive: true });
  if (a.backend !== 'cpu') failures.push(`consumer runtime: ran on ${a.backend}, not cpu`);
  if (fs.existsSync(path.join(a.dir, 'node_modules/@dsa/backend-cpu/build')))
    failures.push(
      'consumer runtime: @dsa/backend-cpu was compiled at install instead of using its prebuilt binary',
    );
  else console.log('consumer runtime: no compiler on PATH, the cpu backend ran on its prebuilt binary');
  if (JSON.stringify(a.tokens) !== JSON.stringify(expected))
    failures.push(`consumer runtime: tokens ${a.tokens} differ from the repo's ${expected}`);
  const b = consumer(
    'indexer',
    ['@dsa/indexer', '@dsa/backend', '@dsa/backend-reference'],
    'indexer-topk.mjs',
    [],
  );
  if (!b.matches_plain_js) failures.push('consumer indexer: top-k differs from plain JS');
  void golden;
} catch (error) {
  failures.push(`consumer: ${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
}
if (failures.length) {
  console.error(failures.join('\n'));
  process.exitCode = 1;
} else console.log('package checks passed');
