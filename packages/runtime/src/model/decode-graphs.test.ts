import path from 'node:path';
import { ReferenceBackend } from '@dsa/backend-reference';
import { describe, expect, it } from 'vitest';
import { disposeAfterEach } from '../../../../tests/dispose-after-each.js';
import { argmaxRows, logitsOf, GraphPair as Pair, prompt } from '../../../../tests/graph-pair.js';
import { DeepseekModel, type ModelOptions } from './deepseek-model.js';

const dir = path.resolve(import.meta.dirname, '../../../../fixtures/tiny');

describe('captured decode graphs (reference backend, recorded closures)', () => {
  const keep = disposeAfterEach();
  const load = async (options: { graphs?: boolean; fused?: boolean; model?: ModelOptions; dir?: string }) => {
    const backend = keep(new ReferenceBackend({ fused: options.fused ?? true }));
    return keep(
      await DeepseekModel.load(backend, options.dir ?? dir, {
        cacheTokens: 1024,
        ...options.model,
        ...(options.graphs === undefined ? {} : { graphs: options.graphs }),
      }),
    );
  };

  it('replays decode steps bit for bit like eager ones: padding, new buckets, growth', async () => {
    const pair = new Pair(await load({ graphs: false }), await load({}));
    expect(pair.eager.graphStats).toBeNull();
    const stats = pair.graphs.graphStats!;
    expect(stats).not.toBeNull();
    // Two short sequences: bucket 2, contexts below index_topk (32): the dense path.
    await pair.add(prompt(5, 1));
    await pair.add(prompt(12, 2));
    for (let i = 0; i < 3; i++) await pair.decode();
    expect(stats.captured).toBe(1);
    expect(stats.replayed).toBe(2);
    // A third, longer one: 3 rows padded to bucket 4, contexts past index_topk (sparse path).
    await pair.add(prompt(40, 3));
    for (let i = 0; i < 4; i++) await pair.decode();
    expect(stats.captured).toBe(2);
    // Two more: 5 rows → bucket 8, a new graph; the 70-token prefill also grows the workspace.
    const invalidations = stats.invalidations;
    await pair.add(prompt(70, 4));
    await pair.add(prompt(3, 5));
    for (let i = 0; i < 4; i++) await pair.decode();
    expect(stats.invalidations).toBeGreaterThan(invalidations);
    expect(stats.captured).toBeGreaterThanOrEqual(3);
    // A sequence crosses a 64-token block and the context bound doubles: a new key, still equal.
    for (let i = 0; i < 3; i++) await pair.decode();
    expect(stats.failures).toBe(0);
    expect(stats.replayed).toBeGreaterThan(stats.eager);
    // The scratch block lies outside the pool: both caches count the same blocks.
    expect(pair.graphs.cache.usedBlocks).toBe(pair.eager.cache.usedBlocks);
    expect(pair.graphs.cache.freeBlocks).toBe(pair.eager.cache.freeBlocks);
  }, 240_000);

  it('drops its graphs when the workspace arena is reallocated', async () => {
    const pair = new Pair(await load({ graphs: false }), await load({}));
    const stats = pair.graphs.graphStats!;
    await pair.add(prompt(9, 6));
    for (let i = 0; i < 3; i++) await pair.decode();
    expect(stats.captured).toBe(1);
    const generation = pair.graphs.workspace.generation;
    await pair.add(prompt(90, 7)); // a bigger step than any before: the arena regrows at the next reset
    pair.sequences.splice(1); // keep decoding the first sequence alone (bucket 1 again)
    pair.next.splice(1);
    for (let i = 0; i < 3; i++) await pair.decode();
    expect(pair.graphs.workspace.generation).toBeGreaterThan(generation);
    expect(stats.invalidations).toBe(1);
    expect(stats.captured).toBe(2);
    expect(stats.failures).toBe(0);
  }, 120_000);

  it.each([
    ['fp8 indexer keys on fp8 weights (tiny-fp8)', { indexer: 'fp8' }, 'tiny-fp8'],
    ['dense attention', { attention: 'dense' }, 'tiny'],
    ["the fp8 latent cache (DeepSeek's row layout, quantized on write)", { latentCache: 'fp8' }, 'tiny'],
  ] as const)(
    '%s: equal to eager',
    async (_name, model, fixture) => {
      const options = { model, dir: path.resolve(dir, '..', fixture) };
      const pair = new Pair(await load({ ...options, graphs: false }), await load(options));
      await pair.add(prompt(36, 9));
      await pair.add(prompt(4, 10));
      await pair.add(prompt(20, 11));
      for (let i = 0; i < 4; i++) await pair.decode();
      const stats = pair.graphs.graphStats!;
      expect(stats.replayed).toBe(3);
      expect(stats.failures).toBe(0);
    },
    120_000,
  );

  it('is off without the fused kernels a graph needs, and with DSA_GRAPHS=0', async () => {
    expect((await load({ fused: false })).graphStats).toBeNull();
    process.env.DSA_GRAPHS = '0';
    try {
      expect((await load({})).graphStats).toBeNull();
    } finally {
      delete process.env.DSA_GRAPHS;
    }
  });

  it('the reference fused kernels agree with the composites', async () => {
    const composite = await load({ fused: false });
    const fused = await load({ graphs: false });
    const tokens = prompt(45, 8);
    const a = await logitsOf(composite, [{ sequence: composite.cache.createSequence(), tokens }]);
    const b = await logitsOf(fused, [{ sequence: fused.cache.createSequence(), tokens }]);
    let max = 0;
    for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
    expect(max).toBeLessThan(1e-4);
    expect(argmaxRows(b, fused.config.vocabSize)).toEqual(argmaxRows(a, composite.config.vocabSize));
  }, 120_000);
});
