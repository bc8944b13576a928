// The cpu backend's native decode step: decode steps captured once per batch bucket into a native
// program and replayed with one call give the same logits, bit for bit, and the same greedy tokens
// as eager steps, on the fixtures (f32, bf16 and fp8 latent caches) and on a 2-layer `small` checkpoint; `graphs: false` and
// DSA_GRAPHS=0 keep every step eager.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import cpuBackendFactory from '@dsa/backend-cpu';
import { DeepseekModel, type ModelOptions, makeModel, presetConfig } from '@dsa/runtime';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { disposeAfterEach } from './dispose-after-each.js';
import { GraphPair, prompt } from './graph-pair.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');

describe('cpu backend: replayed decode steps equal eager ones', () => {
  const keep = disposeAfterEach();
  /** An eager and a graph model of `dir`, each on its own 2-thread cpu backend. */
  const pair = async (dir: string, options: ModelOptions = {}): Promise<GraphPair> => {
    const load = async (graphs: boolean) => {
      const backend = keep(await cpuBackendFactory.create({ threads: 2 }));
      return keep(await DeepseekModel.load(backend, dir, { cacheTokens: 1024, ...options, graphs }));
    };
    return new GraphPair(await load(false), await load(true));
  };

  it('tiny: buckets 1, 2, 4 and 8, dense then sparse contexts, a block boundary', async () => {
    const p = await pair(path.join(FIXTURES, 'tiny'));
    expect(p.eager.graphStats).toBeNull();
    const stats = p.graphs.graphStats!;
    await p.add(prompt(7, 1));
    for (let i = 0; i < 4; i++) await p.decode(); // bucket 1, contexts below index_topk (dense path)
    await p.add(prompt(40, 2));
    for (let i = 0; i < 3; i++) await p.decode(); // bucket 2, the sparse path
    await p.add(prompt(60, 3));
    for (let i = 0; i < 6; i++) await p.decode(); // 3 rows padded to bucket 4; 60 + 6 crosses a 64-token block
    await p.add(prompt(12, 4));
    await p.add(prompt(25, 5));
    for (let i = 0; i < 3; i++) await p.decode(); // 5 rows padded to bucket 8
    expect(stats.failures).toBe(0);
    expect(stats.captured).toBeGreaterThanOrEqual(4);
    expect(stats.replayed).toBeGreaterThan(stats.eager);
  }, 240_000);

  it.each([
    ['tiny-fp8, fp8 indexer', 'tiny-fp8', { indexer: 'fp8' }],
    ['tiny, dense attention', 'tiny', { attention: 'dense' }],
    ['tiny, bf16 latent cache', 'tiny', { latentCache: 'bf16' }],
    ["tiny, fp8 latent cache (DeepSeek's 656-byte row layout)", 'tiny', { latentCache: 'fp8' }],
  ] as const)(
    '%s',
    async (_name, fixture, options) => {
      const p = await pair(path.join(FIXTURES, fixture), options);
      await p.add(prompt(36, 9));
      await p.add(prompt(4, 10));
      for (let i = 0; i < 5; i++) await p.decode();
      const stats = p.graphs.graphStats!;
      expect(stats.failures).toBe(0);
      expect(stats.replayed).toBe(4); // one eager warm-up, then the capture replays
    },
    120_000,
  );

  describe('small preset, 2 layers (bf16; one dense and one MoE layer)', () => {
    let dir = '';
    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsa-replay-small-'));
      await makeModel(dir, presetConfig('small', 2), { dtype: 'bf16', seed: 3 });
    }, 240_000);
    afterAll(() => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('batch 1 and 3 past index_topk (256): the sparse path, MoE routing and experts', async () => {
      const p = await pair(dir);
      const vocab = p.eager.config.vocabSize;
      await p.add(prompt(300, 1, vocab));
      for (let i = 0; i < 4; i++) await p.decode();
      await p.add(prompt(20, 2, vocab));
      await p.add(prompt(270, 3, vocab));
      for (let i = 0; i < 4; i++) await p.decode();
      const stats = p.graphs.graphStats!;
      expect(stats.failures).toBe(0);
      expect(stats.replayed).toBe(6);
    }, 240_000);
  });

  it('graphs: false and DSA_GRAPHS=0 keep decode eager', async () => {
    const backend = keep(await cpuBackendFactory.create({ threads: 2 }));
    expect(backend.capabilities.graphCapture).toBe(true);
    const dir = path.join(FIXTURES, 'tiny');
    const off = keep(await DeepseekModel.load(backend, dir, { cacheTokens: 256, graphs: false }));
    expect(off.graphStats).toBeNull();
    vi.stubEnv('DSA_GRAPHS', '0');
    try {
      const env = keep(await DeepseekModel.load(backend, dir, { cacheTokens: 256 }));
      expect(env.graphStats).toBeNull();
    } finally {
      vi.unstubAllEnvs();
    }
    const on = keep(await DeepseekModel.load(backend, dir, { cacheTokens: 256 }));
    expect(on.graphStats).not.toBeNull();
  });
});
