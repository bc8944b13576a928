// The same request gives bit-identical logits whether it runs alone or batched with others, and from run
// to run: no reduction order may depend on batch composition or thread timing.
import path from 'node:path';
import { uploadTensor } from '@dsa/backend';
import { Random, uploadLinearWeight } from '@dsa/backend/testing';
import { DeepseekModel } from '@dsa/runtime';
import { type DType, tensorView } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import cpuBackendFactory from './index.js';

const dir = path.resolve(import.meta.dirname, '../../../fixtures/tiny');
const prompt = (seed: number, n: number) =>
  Array.from({ length: n }, (_, i) => (seed * 131 + i * 37 + 11) % 1024);

/** Prefill then 4 decode steps of `target`, optionally alongside other sequences; returns every logits row of target. */
async function run(model: DeepseekModel, withOthers: boolean): Promise<Float32Array[]> {
  const target = model.cache.createSequence();
  const others = withOthers ? [model.cache.createSequence(), model.cache.createSequence()] : [];
  const rows: Float32Array[] = [];
  const vocab = model.config.vocabSize;
  let next = [prompt(1, 40), ...others.map((_, i) => prompt(i + 2, 17 + 9 * i))];
  for (let step = 0; step < 5; step++) {
    const result = await model.forward([
      { sequence: target, tokens: next[0]! },
      ...others.map((s, i) => ({ sequence: s, tokens: next[i + 1]! })),
    ]);
    const all = new Float32Array(result.logits.shape[0]! * vocab);
    await model.backend.download(result.logits, all);
    rows.push(all.slice(0, vocab));
    next = next.map((_, i) => [(step * 17 + i * 5) % 1024]);
  }
  for (const s of [target, ...others]) model.cache.release(s);
  return rows;
}

describe('determinism on the cpu backend', () => {
  it('bit-identical logits alone, batched with other sequences, and across runs', async () => {
    const backend = await cpuBackendFactory.create();
    const model = await DeepseekModel.load(backend, dir, { cacheTokens: 1024 });
    const alone = await run(model, false);
    const again = await run(model, false);
    const batched = await run(model, true);
    for (let step = 0; step < alone.length; step++) {
      expect(
        Buffer.from(again[step]!.buffer).equals(Buffer.from(alone[step]!.buffer)),
        `run to run, step ${step}`,
      ).toBe(true);
      expect(
        Buffer.from(batched[step]!.buffer).equals(Buffer.from(alone[step]!.buffer)),
        `batched vs alone, step ${step}`,
      ).toBe(true);
    }
    model.dispose();
  });
});

// linear takes one weight row at a time (bf16 and fp8: 4-row tiles over the quarters of the columns) for up to 4
// rows of x and 4-row tiles above (gemm-tiles.h stream_rows): every row of x must get the same bits either way, at
// any thread split.
describe('linear rows do not depend on how many rows run together', () => {
  it.each<DType>(['bf16', 'f32', 'f16', 'f8_e4m3', 'i8'])('%s weights, M = 1 to 9', async (dtype) => {
    const backend = await cpuBackendFactory.create();
    const [N, K] = [70, 1000];
    const r = new Random(7);
    // i8: GGUF Q8_0 as the importer uploads it, an f32 scale per 32 quants (1000 = 31 blocks and a partial one).
    const w =
      dtype === 'i8'
        ? {
            weight: uploadTensor(
              backend,
              'i8',
              [N, K],
              r.normals(N * K, 40).map((v) => Math.max(-127, Math.min(127, Math.round(v)))),
            ),
            scaleInv: uploadTensor(
              backend,
              'f32',
              [N, Math.ceil(K / 32)],
              r.normals(N * Math.ceil(K / 32), 0.01).map((v) => Math.abs(v) + 2 ** -8),
            ),
            blockSize: [1, 32] as const,
          }
        : uploadLinearWeight(
            backend,
            dtype,
            [N, K],
            r.normals(N * K, dtype === 'f8_e4m3' ? 100 : 0.05),
            (c) => r.normals(c, 0.01).map((v) => Math.abs(v) + 2 ** -8),
          );
    const rows = r.normals(9 * K);
    const product = async (m: number) => {
      const x = uploadTensor(backend, 'f32', [m, K], rows.slice(0, m * K));
      const out = tensorView(backend.allocate(m * N * 4, 'activations'), 'f32', [m, N]);
      backend.kernels.linear(out, x, w);
      const host = new Float32Array(m * N);
      await backend.download(out, host);
      return host;
    };
    const single = await product(1);
    expect(single.some((v) => v !== 0)).toBe(true);
    for (let m = 2; m <= 9; m++) {
      const many = await product(m);
      expect(Buffer.from(many.buffer, 0, N * 4).equals(Buffer.from(single.buffer)), `M = ${m}`).toBe(true);
    }
  });
});
