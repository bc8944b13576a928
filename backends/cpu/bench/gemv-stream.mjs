// Decode GEMV (M = 1, or M=… rows of x) streaming rate against the read probe: bf16 weights of `small`'s shapes, each shape
// cycled over enough copies that every call reads from DRAM (copies × bytes ≥ 4 × LLC; LLC=bytes, default 32 MiB).
import { uploadTensor } from '@dsa/backend';
import { Random, uploadLinearWeight } from '@dsa/backend/testing';
import { tensorView } from '@dsa/tensor';
import { CpuBackend } from '../dist/cpu-backend.js';
import { loadNative } from '../dist/native.js';
import { uploadQ8Weight } from './q8-weight.mjs';

const be = new CpuBackend(loadNative(new URL('..', import.meta.url).pathname).addon, {
  settings: { execution: 'synchronous', precision: process.env.PRECISION ?? 'f32' },
});
const dt = process.env.DT ?? 'bf16';
const M = Number(process.env.M ?? 1);
const probe = be.memoryReadBandwidth();
console.log(`probe ${probe.toFixed(1)} GB/s, threads ${be.threads}`);
const shapes = (
  process.env.SHAPES ?? '32000x1024,2816x1024,1024x2816,1024x1024,1536x384,384x1024,160x1024,96x1024'
)
  .split(',')
  .map((s) => s.split('x').map(Number));
for (const [n, k] of shapes) {
  const bytes = n * k * (dt === 'bf16' ? 2 : dt === 'f8_e4m3' ? 1 : dt === 'i8' ? 1 + 4 / 32 : 4);
  const copies = Math.max(2, Math.ceil((4 * Number(process.env.LLC ?? 32 * 2 ** 20)) / bytes));
  const r = new Random(1);
  const x = uploadTensor(be, 'f32', [M, k], r.normals(M * k));
  const ws = Array.from({ length: copies }, () =>
    dt === 'i8'
      ? uploadQ8Weight(be, r, n, k, (c) => new Array(c).fill(2 ** -7))
      : uploadLinearWeight(be, dt, [n, k], r.normals(n * k, dt === 'f8_e4m3' ? 100 : 0.05), (c) =>
          new Array(c).fill(2 ** -7),
        ),
  );
  const out = tensorView(be.allocate(M * n * 4, 'activations'), 'f32', [M, n]);
  let best = 1e9;
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (const w of ws) be.kernels.linear(out, x, w);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9 / copies);
  }
  const gbs = bytes / best / 1e9;
  console.log(
    `${dt} M=${M} N=${n} K=${k} (${(bytes / 1e6).toFixed(2)} MB): ${(best * 1e6).toFixed(1)} µs, ${gbs.toFixed(1)} GB/s = ${(gbs / probe).toFixed(2)} of probe`,
  );
}
