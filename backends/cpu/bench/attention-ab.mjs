// mlaAttention µs per call at a decode batch, this checkout's addon against another's (OLD=dir), interleaved
// in one process, with a bit-for-bit comparison of the outputs. Each call takes the next of LAYERS latent
// caches (as a decode step walks its layers), so that at the default shape (small: 32 sequences at depth
// 1024, rows of 160 bf16, top-k 256, 8 layers: 84 MB) the rows come from memory, not the last-level cache.
// Env: S=32 DEPTH=1024 W=160 C=128 H=16 K=256 LAYERS=8 DTYPE=bf16 PREC=bf16 ROUNDS=30 OLD=dir.
import { uploadTensor } from '@dsa/backend';
import { Random, sparseIndices, uploadBatch } from '@dsa/backend/testing';
import { tensorView } from '@dsa/tensor';
import { abBackends } from './ab-backends.mjs';

const env = (name, fallback) => Number(process.env[name] ?? fallback);
const [S, depth, W, C, H, K, L, rounds] = [
  env('S', 32),
  env('DEPTH', 1024),
  env('W', 160),
  env('C', 128),
  env('H', 16),
  env('K', 256),
  env('LAYERS', 8),
  env('ROUNDS', 30),
];
const dtype = process.env.DTYPE ?? 'bf16';
const blockSize = 64;
const perSequence = Math.ceil((depth + 1) / blockSize);
const r0 = new Random(3);
// Every sequence's blocks shuffled over the pool, as a cache that filled in turns.
const blocks = Array.from({ length: S * perSequence }, (_, i) => i).sort(() => r0.next() - 0.5);
const layout = {
  blockSize,
  blockTable: Array.from({ length: S }, (_, s) => blocks.slice(s * perSequence, (s + 1) * perSequence)),
  sequenceIds: Array.from({ length: S }, (_, s) => s),
  positions: new Array(S).fill(depth),
  slots: S * perSequence * blockSize,
};
const bes = abBackends();
const runs = Object.fromEntries(
  Object.entries(bes).map(([name, be]) => {
    const r = new Random(7);
    const layers = Array.from({ length: L }, () => ({
      cache: uploadTensor(be, dtype, [layout.slots, W], r.normals(layout.slots * W, 0.5)),
      q: uploadTensor(be, 'f32', [S, H, W], r.normals(S * H * W, 0.5)),
      indices: uploadTensor(be, 'i32', [S, K], sparseIndices(r, layout, K)),
    }));
    const out = tensorView(be.allocate(S * H * C * 4, 'activations'), 'f32', [S, H, C]);
    return [name, { be, layers, out, batch: uploadBatch(be, layout) }];
  }),
);
const best = {};
const outputs = {};
for (let round = 0; round < rounds; round++)
  for (const [name, { be, layers, out, batch }] of Object.entries(runs)) {
    const t0 = process.hrtime.bigint();
    for (const layer of layers) be.fused.mlaAttention(out, layer.q, layer.cache, batch, layer.indices, 0.1);
    const us = Number(process.hrtime.bigint() - t0) / 1e3 / L;
    best[name] = Math.min(best[name] ?? 1e12, us);
    if (round === rounds - 1) outputs[name] = new Float32Array(await downloadAll(be, out));
  }
async function downloadAll(be, view) {
  const host = new Float32Array(S * H * C);
  await be.download(view, host);
  return host.buffer;
}
const same = outputs.new.every((v, i) => Object.is(v, outputs.old[i]));
console.log(
  `mlaAttention S=${S} depth=${depth} W=${W} k=${K} ${dtype} × ${L} layers: new ${best.new.toFixed(1)} µs | old ${best.old.toFixed(1)} µs per call, same bits: ${same}`,
);
