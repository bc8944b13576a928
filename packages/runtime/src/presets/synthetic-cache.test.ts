import path from 'node:path';
import { downloadTensor, gatherLatentRows, UnsupportedError, uploadTensor } from '@dsa/backend';
import { ReferenceBackend } from '@dsa/backend-reference';
import { narrow, type TensorView, tensorView } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { DeepseekModel } from '../model/deepseek-model.js';
import { PagedKvCache } from '../model/kv-cache.js';
import { fillSyntheticCache } from './synthetic-cache.js';

const dir = path.resolve(import.meta.dirname, '../../../../fixtures/tiny');

describe('fillSyntheticCache', () => {
  it('fills empty sequences to a depth with the same rows on every run, without a prefill', async () => {
    const backend = new ReferenceBackend();
    const fill = async () => {
      const model = await DeepseekModel.load(backend, dir, { cacheTokens: 256 });
      const { cache } = model;
      const sequences = [cache.createSequence(), cache.createSequence()];
      fillSyntheticCache(backend, cache, sequences, 70, 100);
      const rows = await downloadTensor(
        backend,
        narrow(cache.latent[0] as TensorView, 0, sequences[1]!.blocks[0]! * cache.blockSize, 2),
      );
      const scales = cache.indexerKeys[0]?.scales;
      const scaleRows = scales ? await downloadTensor(backend, narrow(scales, 0, 0, cache.blockSize)) : null;
      return { sequences, rows, scaleRows, blockSize: cache.blockSize };
    };
    const first = await fill();
    const [a, b] = first.sequences;
    expect(a!.length).toBe(70);
    expect(a!.tokens).toHaveLength(70);
    expect(a!.blocks).toHaveLength(Math.ceil(70 / first.blockSize));
    expect(b!.tokens.every((t) => t >= 0 && t < 100)).toBe(true);
    expect(a!.tokens).not.toEqual(b!.tokens);
    // seeded random rows in [-0.5, 0.5), not zeros, identical on a second run
    expect(first.rows.some((v) => v !== 0)).toBe(true);
    expect(first.rows.every((v) => Math.abs(v) <= 0.5)).toBe(true);
    if (first.scaleRows) expect(first.scaleRows.every((v) => v >= 0.01 && v <= 0.02)).toBe(true);
    expect((await fill()).rows).toEqual(first.rows);
  });

  it('fills an fp8 latent cache with valid 656-layout rows (finite e4m3, scale 1/4, bf16 RoPE) a decode step reads', async () => {
    const backend = new ReferenceBackend();
    const model = await DeepseekModel.load(backend, dir, { cacheTokens: 256, latentCache: 'fp8' });
    const { cache } = model;
    const [sequence] = [cache.createSequence()];
    fillSyntheticCache(backend, cache, [sequence!], 70, 100);
    const first = sequence!.blocks[0]! * cache.blockSize;
    const slots = uploadTensor(backend, 'i32', [4], [first, first + 1, first + 2, first + 3]);
    const rows = await downloadTensor(
      backend,
      gatherLatentRows(backend, model.workspace, cache.latent[0]!, slots),
    );
    expect(rows.some((v) => v !== 0)).toBe(true);
    expect(rows.every((v) => Number.isFinite(v) && Math.abs(v) <= 0.5)).toBe(true);
    const result = await model.forward([{ sequence: sequence!, tokens: [5] }]);
    const logits = await downloadTensor(backend, result.logits);
    expect(logits.every(Number.isFinite)).toBe(true);
    model.dispose();
  });

  it('refuses a sequence that holds tokens, and a cache dtype it cannot fill', async () => {
    const backend = new ReferenceBackend();
    const model = await DeepseekModel.load(backend, dir, { cacheTokens: 128 });
    const used = model.cache.createSequence();
    fillSyntheticCache(backend, model.cache, [used], 3, 10);
    expect(() => fillSyntheticCache(backend, model.cache, [used], 3, 10)).toThrow(
      `fillSyntheticCache: sequence ${used.id} already holds 3 tokens; give empty sequences`,
    );
    const odd = Object.create(PagedKvCache.prototype) as PagedKvCache;
    const buffer = backend.allocate(4 * 64, 'kv-cache');
    Object.assign(odd, {
      blockSize: 64,
      latent: [tensorView(buffer, 'i32', [64, 1])],
      indexerKeys: [],
      append: (sequence: { blocks: number[] }) => {
        sequence.blocks.push(0);
        return 0;
      },
    });
    expect(() =>
      fillSyntheticCache(backend, odd, [{ id: 9, length: 0, blocks: [], tokens: [] } as never], 1, 10),
    ).toThrow(
      new UnsupportedError('fillSyntheticCache: cannot fill a i32 cache tensor with synthetic values'),
    );
  });
});
