// Our cpu backend's `linear` against PyTorch's bf16 `linear` (oneDNN's brgemm where the CPU has AVX-512 BF16,
// the kernel PyTorch and IPEX run transformer projections with) at the same shapes on the same cores: weights
// bf16 [N, K] from memory (enough copies to pass 96 MB), x [M, K]. Each engine runs every shape twice in turns
// (theirs, ours, theirs, ours) and keeps its best, so that a phase of the machine's memory or clocks does not
// land on one side only.
//
// Needs `pnpm build` and a python3 with torch (Debian: `apt install python3-torch`, 1.13 with oneDNN 2.6, in
// /usr/bin/python3; --python names another interpreter).
// Usage: node tools/peers/linear-onednn.mjs [--shapes MxNxK,...] [--precision bf16|f32] [--threads N]
//   [--python PATH] [--out DIR]
//   default shapes: `small`'s decode projections at 1, 8 and 32 rows (the lm head, the dense layer's gate/up
//   and down, o_proj, q_a, q_b)
// Output: one JSON line per shape on stdout ({m, n, k, ours_ms, ours_gflops, theirs_ms, theirs_gflops,
// theirs_kernel, ratio}), a table on stderr, and with --out DIR results.jsonl there.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createBackend, uploadTensor } from '../../packages/backend/dist/index.js';
import { Random, uploadLinearWeight } from '../../packages/backend/dist/testing/index.js';
import { tensorView } from '../../packages/tensor/dist/index.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const SMALL = [
  [32000, 1024], // lm head
  [5632, 1024], // the dense layer's gate and up
  [1024, 2816], // its down
  [1024, 1024], // o_proj
  [384, 1024], // q_a
  [1536, 384], // q_b
];
const { values: flags } = parseArgs({
  options: {
    shapes: {
      type: 'string',
      default: [1, 8, 32].flatMap((m) => SMALL.map(([n, k]) => `${m}x${n}x${k}`)).join(','),
    },
    precision: { type: 'string', default: 'bf16' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    python: { type: 'string', default: 'python3' },
    out: { type: 'string' },
  },
});
const shapes = flags.shapes.split(',').map((s) => {
  const dims = s.split('x').map(Number);
  if (dims.length !== 3 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    process.stderr.write(`--shapes: "${s}" must be MxNxK with positive integers\n`);
    process.exit(2);
  }
  return dims;
});
const threads = Number(flags.threads);
const log = (line) => process.stderr.write(`${line}\n`);

/** PyTorch's pass over every shape, in a child: {key → {ms, gflops, kernel}}. */
function theirs() {
  const child = spawnSync(
    flags.python,
    [path.join(HERE, 'torch-linear.py'), String(threads), shapes.map((s) => s.join('x')).join(',')],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  if (child.error) throw new Error(`--python ${flags.python}: ${child.error.message}`);
  if (child.status !== 0) {
    throw new Error(
      `torch-linear.py under ${flags.python} failed (exit ${child.status}; a python3 with torch: --python):\n${child.stderr}`,
    );
  }
  const rows = child.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  return Object.fromEntries(rows.map((r) => [`${r.m}x${r.n}x${r.k}`, r]));
}

// Synchronous: each call runs in the caller's thread on the pool, no queue between (the step's graph replay
// has none either).
const be = await createBackend({
  backend: 'cpu',
  threads,
  settings: { precision: flags.precision, execution: 'synchronous' },
});
/** Our pass over every shape: {key → ms}, the best of 5 passes over the copies (as torch-linear.py). */
async function ours() {
  const result = {};
  for (const [m, n, k] of shapes) {
    const r = new Random(1);
    const copies = Math.max(1, Math.ceil(96e6 / (n * k * 2)));
    const ws = Array.from({ length: copies }, () =>
      uploadLinearWeight(be, 'bf16', [n, k], r.normals(n * k, 0.05), () => []),
    ); // [N, K] each
    const x = uploadTensor(be, 'f32', [m, k], r.normals(m * k)); // [M, K]
    const out = tensorView(be.allocate(m * n * 4, 'activations'), 'f32', [m, n]); // [M, N]
    const pass = async () => {
      for (const w of ws) be.kernels.linear(out, x, w);
      await be.synchronize();
    };
    await pass();
    let best = Infinity;
    for (let i = 0; i < 5; i++) {
      const started = process.hrtime.bigint();
      await pass();
      best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e6 / copies);
    }
    for (const view of [...ws.map((w) => w.weight), x, out]) view.buffer.dispose();
    result[`${m}x${n}x${k}`] = best;
  }
  return result;
}

const torchRuns = [];
const ourRuns = [];
for (let turn = 0; turn < 2; turn++) {
  torchRuns.push(theirs());
  ourRuns.push(await ours());
}
log(
  `linear, ${threads} threads, weights bf16 from memory; ours in the ${flags.precision} precision, theirs PyTorch ${flags.python}`,
);
log(
  `${'M×N×K'.padEnd(18)}${'ours ms'.padStart(10)}${'GFLOP/s'.padStart(9)}${'theirs ms'.padStart(11)}${'GFLOP/s'.padStart(9)}${'ours ×'.padStart(8)}  their kernel`,
);
const rows = [];
for (const [m, n, k] of shapes) {
  const key = `${m}x${n}x${k}`;
  const oursMs = Math.min(...ourRuns.map((r) => r[key]));
  const them = torchRuns.map((r) => r[key]).sort((a, b) => a.ms - b.ms)[0];
  const flop = 2 * m * n * k;
  const row = {
    m,
    n,
    k,
    threads,
    precision: flags.precision,
    ours_ms: oursMs,
    ours_gflops: flop / oursMs / 1e6,
    theirs_ms: them.ms,
    theirs_gflops: them.gflops,
    theirs_kernel: them.kernel,
    ratio: them.ms / oursMs,
  };
  rows.push(row);
  process.stdout.write(`${JSON.stringify(row)}\n`);
  log(
    `${key.padEnd(18)}${oursMs.toFixed(3).padStart(10)}${row.ours_gflops.toFixed(1).padStart(9)}${them.ms.toFixed(3).padStart(11)}${them.gflops.toFixed(1).padStart(9)}${`${row.ratio.toFixed(2)}×`.padStart(8)}  ${them.kernel}`,
  );
}
if (flags.out) {
  fs.mkdirSync(flags.out, { recursive: true });
  fs.writeFileSync(
    path.join(flags.out, 'results.jsonl'),
    `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`,
  );
  log(`wrote ${path.join(flags.out, 'results.jsonl')}`);
}
be.dispose();
