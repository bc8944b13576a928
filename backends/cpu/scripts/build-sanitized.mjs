// Builds the native addon with AddressSanitizer and UndefinedBehaviorSanitizer into build-sanitized/ (beside
// build/, which it never touches), from the sources and flags of binding.gyp. For the sanitizer step of
// .ci/run; never used by the published package.
//
//   node scripts/build-sanitized.mjs        compile what is stale (an object older than its source or a header)
//
// Load it by pointing node-gyp-build at it and preloading the ASan runtime (node itself is not instrumented):
//   LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \
//   env "@DSA/BACKEND_CPU_PREBUILD=$PWD/build-sanitized" node ...
// (node-gyp-build reads <PACKAGE NAME>_PREBUILD, upper-cased with '-' as '_', as the folder to load from.)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const require = createRequire(import.meta.url);
const target = JSON.parse(fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8')).targets[0];
const out = path.join(root, 'build-sanitized', 'build', 'Release');
const library = path.join(out, `${target.target_name}.node`);
const sources = target.sources.map((s) => path.join(root, s));
const headers = fs.readdirSync(path.join(root, 'native')).map((f) => path.join(root, 'native', f));

const mtime = (file) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : -1);
// An object is stale when its source, any header or binding.gyp is newer; the library when any object is.
const shared = Math.max(
  ...headers.filter((f) => f.endsWith('.h')).map(mtime),
  mtime(path.join(root, 'binding.gyp')),
  mtime(import.meta.filename),
);
const objectOf = (source) => path.join(root, 'build-sanitized', 'obj', `${path.basename(source)}.o`);
const stale = sources.filter((source) => mtime(objectOf(source)) < Math.max(mtime(source), shared));
if (stale.length === 0 && mtime(library) >= Math.max(...sources.map((s) => mtime(objectOf(s))))) {
  console.log(`build-sanitized: ${path.relative(root, library)} is up to date`);
  process.exit(0);
}

const nodedir = process.env.npm_config_nodedir ?? '/usr';
const includes = [require('node-addon-api').include_dir, path.join(nodedir, 'include/node')];
const SANITIZE = [
  '-fsanitize=address,undefined',
  '-fno-sanitize-recover=all',
  '-fno-omit-frame-pointer',
  '-g',
];
// binding.gyp's own flags, with -O1 instead of -O3 (clearer reports, faster to compile).
const flags = [
  ...target.cflags_cc.filter((f) => !/^-O\d$/.test(f)),
  '-O1',
  '-fPIC',
  '-pthread',
  ...target.defines.map((d) => `-D${d}`),
  ...includes.map((i) => `-I${i}`),
  ...SANITIZE,
];
const cxx = process.env.CXX ?? 'g++';
const objects = path.join(root, 'build-sanitized', 'obj');
fs.mkdirSync(objects, { recursive: true });
fs.mkdirSync(out, { recursive: true });

function run(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cxx, args, { stdio: 'inherit' });
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cxx} ${args.at(-1)} failed (${code})`)),
    );
  });
}

const queue = stale.map((source) => ({ source, object: objectOf(source) }));
const jobs = Math.max(1, Math.min(os.availableParallelism(), Number(process.env.JOBS ?? 4)));
const started = performance.now();
await Promise.all(
  Array.from({ length: jobs }, async () => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      await run([...flags, '-c', '-o', item.object, item.source]);
    }
  }),
);
const scratch = `${library}.${process.pid}.tmp`;
await run(['-shared', ...SANITIZE, '-pthread', '-o', scratch, ...sources.map(objectOf)]);
fs.renameSync(scratch, library);
console.log(
  `build-sanitized: ${path.relative(root, library)} in ${((performance.now() - started) / 1000).toFixed(0)} s`,
);
