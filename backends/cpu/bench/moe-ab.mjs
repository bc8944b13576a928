// moeExperts µs per call at decode batches, this checkout's addon against another's (OLD=dir), interleaved
// in one process, with a bit-for-bit comparison of the outputs. Each call takes the next of LAYERS sets of
// experts (as a decode step walks its layers), so that with the default shape (small: 32 experts of
// 96 x 1024 bf16, 7 layers, 132 MB) the weights come from memory, not the last-level cache.
// Env: TOKENS=1,8,32 EXPERTS=32 ACTIVE=4 H=1024 I=96 LAYERS=7 DTYPE=bf16 PREC=bf16 OLD=dir.
import { uploadTensor } from '@dsa/backend';
import { Random, uploadLinearWeight } from '@dsa/backend/testing';
import { tensorView } from '@dsa/tensor';
import { abBackends } from './ab-backends.mjs';

const env = (name, fallback) => Number(process.env[name] ?? fallback);
const [E, A, H, I, L] = [
  env('EXPERTS', 32),
  env('ACTIVE', 4),
  env('H', 1024),
  env('I', 96),
  env('LAYERS', 7),
];
const dtype = process.env.DTYPE ?? 'bf16';
const bes = abBackends();
const weight = (be, r, n, k) =>
  uploadLinearWeight(be, dtype, [n, k], r.normals(n * k, dtype === 'f8_e4m3' ? 100 : 0.05), (c) =>
    new Array(c).fill(2 ** -7),
  );
const layers = Object.fromEntries(
  Object.entries(bes).map(([name, be]) => {
    const r = new Random(7);
    return [
      name,
      Array.from({ length: L }, () =>
        Array.from({ length: E }, () => ({
          gate: weight(be, r, I, H),
          up: weight(be, r, I, H),
          down: weight(be, r, H, I),
        })),
      ),
    ];
  }),
);
for (const tokens of (process.env.TOKENS ?? '1,8,32').split(',').map(Number)) {
  // A distinct experts per token, routing weights in (0, 1).
  const r = new Random(tokens);
  const picks = [];
  for (let t = 0; t < tokens; t++) picks.push(...r.sample(E, A).sort((a, b) => a - b));
  const routing = Array.from({ length: tokens * A }, () => 0.1 + 0.8 * r.next());
  const xs = r.normals(tokens * H);
  const ops = {};
  for (const [name, be] of Object.entries(bes)) {
    const x = uploadTensor(be, 'f32', [tokens, H], xs);
    const indices = uploadTensor(be, 'i32', [tokens, A], picks);
    const weights = uploadTensor(be, 'f32', [tokens, A], routing);
    const out = tensorView(be.allocate(tokens * H * 4, 'activations'), 'f32', [tokens, H]);
    let layer = 0;
    ops[name] = {
      be,
      out,
      run: () => be.fused.moeExperts(out, x, indices, weights, layers[name][layer++ % L]),
    };
  }
  const reps = 20 * L;
  const best = {};
  for (let round = 0; round < 9; round++)
    for (const [name, { run }] of Object.entries(ops)) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < reps; i++) run();
      best[name] = Math.min(best[name] ?? 1e9, Number(process.hrtime.bigint() - t0) / 1e3 / reps);
    }
  const res = {};
  for (const [name, { be, out }] of Object.entries(ops)) {
    const o = new Float32Array(tokens * H);
    await be.download(out, o);
    res[name] = Buffer.from(o.buffer);
  }
  const active = new Set(picks).size;
  const mb = (active * 3 * H * I * (dtype === 'bf16' ? 2 : 1)) / 1e6;
  console.log(
    `${dtype} tokens=${tokens} experts=${active}/${E} (${mb.toFixed(1)} MB): ` +
      Object.keys(ops)
        .map((v) => `${v} ${best[v].toFixed(1)} µs ${((mb * 1e3) / best[v]).toFixed(1)} GB/s`)
        .join(' | ') +
      ` same bits: ${Buffer.compare(res.new, res.old) === 0}`,
  );
}
