#!/usr/bin/env node
// Builds kernels/**/*.cu into one fatbin (build/dsa-kernels.fatbin) with nvcc:
// every file is compiled as relocatable device code for each target architecture, then device-linked
// into one image per architecture, so that one cuModuleLoadData sees every kernel. Incremental: a .cu is recompiled
// only when it (or any .cuh) is newer than its object, and nothing runs when the fatbin is newer
// than every source. Without nvcc it prints one line and succeeds (the package still builds).
//   DSA_CUDA_ARCHS="sm_90a sm_80"  override the architectures     NVCC=/path/to/nvcc  pick nvcc
//   --force                        rebuild everything             DSA_CUDA_JOBS=N      parallel nvcc jobs
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const kernelsDir = path.join(root, 'kernels');
const outDir = path.join(root, 'build');
const fatbin = path.join(outDir, 'dsa-kernels.fatbin');
const manifest = path.join(outDir, 'dsa-kernels.json');
const force = process.argv.includes('--force');

/** Architectures we ship: cubins only (device-linked code cannot carry PTX). */
const DEFAULT_ARCHS = ['sm_80', 'sm_89', 'sm_90a', 'sm_100a', 'sm_120'];

function findNvcc() {
  // NVCC, when set, is the only candidate (NVCC=/nonexistent forces the "not found" path).
  const candidates = process.env.NVCC
    ? [process.env.NVCC]
    : ['nvcc', '/usr/local/cuda/bin/nvcc', '/usr/local/bin/nvcc'];
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch {}
  }
  return null;
}

function walk(dir, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else out.push(full);
  }
  return out;
}

const mtime = (file) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : -1);

// Only kernels/: the versions the winners beat live in dev/kernels as workbenches, never in the fatbin.
// kernels/sm90a/: Hopper-only kernels (wgmma, setmaxnreg) built whole-program, without -rdc (relocatable code
// makes ptxas ignore setmaxnreg and serialize wgmma), each into its own module `dsa-kernels.<name>.sm90a.fatbin`
// that the backend loads beside the main one on compute capability 9.0 (the manifest's `modules`).
const sm90aDir = path.join(kernelsDir, 'sm90a');
const files = walk(kernelsDir);
const sources = files.filter((f) => f.endsWith('.cu') && !f.startsWith(sm90aDir)).sort();
const sm90aSources = files.filter((f) => f.endsWith('.cu') && f.startsWith(sm90aDir)).sort();
const headers = files.filter((f) => f.endsWith('.cuh'));
const newestHeader = Math.max(0, ...headers.map(mtime));
const newestSource = Math.max(
  newestHeader,
  ...sources.map(mtime),
  ...sm90aSources.map(mtime),
  mtime(fileURLToPath(import.meta.url)),
);

const nvcc = findNvcc();
if (!nvcc) {
  console.log('nvcc not found: CUDA kernels not built');
  process.exit(0);
}
if (!force && mtime(fatbin) > newestSource && mtime(manifest) > newestSource) {
  console.log(`CUDA kernels up to date (${path.relative(process.cwd(), fatbin)})`);
  process.exit(0);
}

const requested = (process.env.DSA_CUDA_ARCHS ?? '').split(/[\s,]+/).filter(Boolean);
const supported = new Set(
  execFileSync(nvcc, ['--list-gpu-arch'], { encoding: 'utf8' })
    .split(/\s+/)
    .filter(Boolean)
    .map((a) => a.replace('compute_', '')),
);
const archs = (requested.length > 0 ? requested : DEFAULT_ARCHS).filter((arch) => {
  const number = arch.replace(/^sm_/, '').replace(/[af]$/, '');
  const ok = supported.has(number);
  if (!ok) console.log(`nvcc ${nvcc} cannot target ${arch}; skipped`);
  return ok;
});
if (archs.length === 0) {
  console.error('no CUDA architecture this nvcc supports was requested');
  process.exit(1);
}
const gencode = archs.flatMap((arch) => ['-gencode', `arch=${arch.replace('sm_', 'compute_')},code=${arch}`]);
const objDir = path.join(outDir, 'obj', archs.join('-'));
fs.mkdirSync(objDir, { recursive: true });

const common = ['-std=c++17', '-O3', '-rdc=true', '--expt-relaxed-constexpr'];
const jobs = Math.max(1, Number(process.env.DSA_CUDA_JOBS) || Math.min(4, os.availableParallelism?.() ?? 2));
const started = Date.now();

function run(args, label) {
  return new Promise((resolve, reject) => {
    const child = spawn(nvcc, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    child.on('close', (code) => {
      const errors = log
        .split('\n')
        .filter(
          (l) =>
            !/ptxas info|bytes stack frame|Used \d+ registers|Compiling entry|Function properties|^\s*$/.test(
              l,
            ),
        );
      if (code === 0) {
        if (errors.length > 0) console.log(`${label}:\n${errors.join('\n')}`);
        resolve(log);
      } else
        reject(
          new Error(
            `nvcc failed on ${label} (exit ${code}):\n${errors.join('\n')}\ncommand: ${nvcc} ${args.join(' ')}`,
          ),
        );
    });
  });
}

const objects = sources.map((source) => {
  const base = source.startsWith(kernelsDir) ? kernelsDir : root;
  const name = path.relative(base, source).replace(/[\\/]/g, '__').replace(/\.cu$/, '.o');
  return { source, object: path.join(objDir, name) };
});
// A file is stale when its object is older than the file or any kernels/ header its depfile (nvcc -MD)
// lists; without a depfile, than any header at all.
function newestInput(source, object) {
  const depfile = `${object}.d`;
  if (!fs.existsSync(depfile)) return Math.max(mtime(source), newestHeader);
  const deps = fs
    .readFileSync(depfile, 'utf8')
    .replace(/\\\n/g, ' ')
    .split(/\s+/)
    .filter((t) => t.startsWith(kernelsDir));
  return Math.max(
    mtime(source),
    ...deps.map((d) => (fs.existsSync(d) ? mtime(d) : Number.POSITIVE_INFINITY)),
  );
}
const stale = objects.filter(({ source, object }) => force || mtime(object) <= newestInput(source, object));
console.log(`nvcc: ${stale.length}/${objects.length} kernel files for ${archs.join(', ')} (${jobs} jobs)`);
const queue = [...stale];
async function worker() {
  for (let job = queue.shift(); job; job = queue.shift()) {
    const t = Date.now();
    await run(
      [
        ...common,
        ...gencode,
        '-I',
        kernelsDir,
        '-MD',
        '-MF',
        `${job.object}.d`,
        '-c',
        job.source,
        '-o',
        job.object,
      ],
      path.relative(root, job.source),
    );
    console.log(`  ${path.relative(root, job.source)} ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
}
// Hopper modules: only when sm_90a is among the targets.
const modules = archs.includes('sm_90a')
  ? sm90aSources.map((source) => {
      const name = path.basename(source, '.cu');
      return { source, name, file: path.join(outDir, `dsa-kernels.${name}.sm90a.fatbin`) };
    })
  : [];
for (const stale of fs.readdirSync(outDir).filter((f) => f.endsWith('.sm90a.fatbin')))
  if (!modules.some((m) => path.basename(m.file) === stale)) fs.rmSync(path.join(outDir, stale));
try {
  await Promise.all(Array.from({ length: jobs }, worker));
  await run(['-dlink', '-fatbin', ...gencode, ...objects.map((o) => o.object), '-o', fatbin], 'device link');
  for (const m of modules) {
    const t = Date.now();
    await run(
      [
        '-std=c++17',
        '-O3',
        '--expt-relaxed-constexpr',
        '-gencode',
        'arch=compute_90a,code=sm_90a',
        '-I',
        kernelsDir,
        '-fatbin',
        m.source,
        '-o',
        m.file,
      ],
      path.relative(root, m.source),
    );
    console.log(
      `  ${path.relative(root, m.source)} (sm_90a module) ${((Date.now() - t) / 1000).toFixed(1)} s`,
    );
  }
} catch (error) {
  console.error(error.message);
  process.exit(1);
}

// The kernel names the fatbin holds, for error messages ("unknown kernel ...; known: ..."): the
// extern "C" symbols of its cubins (our kernels are all named dsa_*), so macro-generated families
// (dsa_fused_gemv2_bf16_m1 ...) are listed too.
function kernelNames(file) {
  const image = fs.readFileSync(file).toString('latin1');
  return [...new Set(image.match(/dsa_[A-Za-z0-9_]+/g) ?? [])]
    .filter((name) => image.includes(`.text.${name}\0`))
    .sort();
}
const kernels = kernelNames(fatbin);
const moduleEntries = modules.map((m) => ({
  file: path.basename(m.file),
  arch: 'sm_90a',
  kernels: kernelNames(m.file),
}));
fs.writeFileSync(
  manifest,
  `${JSON.stringify({ archs, nvcc: execFileSync(nvcc, ['--version'], { encoding: 'utf8' }).trim().split('\n').pop(), builtAt: new Date().toISOString(), kernels, modules: moduleEntries }, null, 2)}\n`,
);
console.log(
  `built ${path.relative(process.cwd(), fatbin)} (${(fs.statSync(fatbin).size / 1e6).toFixed(1)} MB, ${kernels.length} kernels, ${archs.join(' ')}) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
