// The latent cache formats of DeepseekModel's `latentCache` against the f32 cache on fixtures/tiny, on the
// reference and the native CPU backend: bf16 halves the cache, fp8 is DeepSeek's 656-byte layout (e4m3 NoPE
// × power-of-two block scales, bf16 RoPE: 32 + 4 + 16 bytes a row here). Rows are rounded once, when written.
import path from 'node:path';
import type { Backend } from '@dsa/backend';
import cpuBackendFactory from '@dsa/backend-cpu';
import { ReferenceBackend } from '@dsa/backend-reference';
import { DeepseekModel, type LatentCacheFormat } from '@dsa/runtime';
import { describe, expect, it } from 'vitest';
import { maxAbsDiff } from './golden-helpers.js';

const dir = path.resolve(import.meta.dirname, '../fixtures/tiny');
const tokens = Array.from({ length: 48 }, (_, i) => (i * 131 + 7) % 1024);

async function run(backend: Backend, latentCache: LatentCacheFormat) {
  const model = await DeepseekModel.load(backend, dir, { cacheTokens: 128, latentCache });
  const sequence = model.cache.createSequence();
  const result = await model.forward([{ sequence, tokens }], { logits: 'all' });
  const logits = new Float32Array(tokens.length * model.config.vocabSize);
  await backend.download(result.logits, logits);
  const cache = { format: model.cache.latentFormat, rowBytes: model.cache.latentRowBytes };
  model.dispose();
  return { logits, cache };
}

describe('latentCache: bf16 and fp8', () => {
  for (const [name, create] of [
    ['reference', async () => new ReferenceBackend()],
    ['cpu', () => cpuBackendFactory.create()],
  ] as const) {
    it(`${name}: bf16 rows within 5e-2, fp8 rows (52 bytes) within 2.5 of the f32 cache's logits`, async () => {
      const backend = await create();
      const exact = await run(backend, 'f32');
      const half = await run(backend, 'bf16');
      const fp8 = await run(backend, 'fp8');
      expect(exact.cache).toEqual({ format: 'f32', rowBytes: 40 * 4 });
      expect(half.cache).toEqual({ format: 'bf16', rowBytes: 40 * 2 });
      expect(fp8.cache).toEqual({ format: 'fp8', rowBytes: 32 + 4 + 2 * 8 });
      const bf16Error = maxAbsDiff(half.logits, exact.logits);
      const fp8Error = maxAbsDiff(fp8.logits, exact.logits);
      console.log(
        `latent cache (${name}, tiny, 48 tokens): logits max abs vs f32: bf16 ${bf16Error}, fp8 ${fp8Error}`,
      );
      expect(bf16Error).toBeGreaterThan(0); // the rounding is real
      expect(bf16Error).toBeLessThan(5e-2);
      // Measured 0.013 (bf16) and 1.76 (fp8): four layers of random weights amplify e4m3's 3-bit rounding
      // (tests/latent-cache-fp8.test.ts measures every model; docs/benchmarks.md tabulates them).
      expect(fp8Error).toBeGreaterThan(bf16Error);
      expect(fp8Error).toBeLessThan(2.5);
      backend.dispose();
    });
  }

  it("cpu in bf16 precision: defaults to the bf16 cache (exactLatentCache), the f32 cache's logits bit for bit", async () => {
    const backend = await cpuBackendFactory.create({ threads: 2, settings: { precision: 'bf16' } });
    try {
      const decode = async (latentCache?: LatentCacheFormat) => {
        const model = await DeepseekModel.load(backend, dir, {
          cacheTokens: 128,
          ...(latentCache ? { latentCache } : {}),
        });
        const sequence = model.cache.createSequence();
        const logits: Float32Array[] = [];
        let result = await model.forward([{ sequence, tokens }], { logits: 'all' });
        for (const next of [5, 99, 0]) {
          const step = new Float32Array(result.logits.shape.reduce((a, b) => a * b, 1));
          await backend.download(result.logits, step);
          logits.push(step);
          result = await model.forward([{ sequence, tokens: [next] }]);
        }
        const format = model.cache.latentFormat;
        model.dispose();
        return { format, logits };
      };
      const exact = await decode('f32');
      const chosen = await decode();
      if ((backend as { precision?: string }).precision !== 'bf16') {
        // No AVX-512 BF16 here: the backend runs f32 and keeps the f32 default.
        expect(backend.capabilities.exactLatentCache).toBeUndefined();
        expect(chosen.format).toBe('f32');
        return;
      }
      expect(backend.capabilities.exactLatentCache).toBe('bf16');
      expect(chosen.format).toBe('bf16');
      // 48 prompt tokens past tiny's index_topk of 32, so the decode steps attend sparsely.
      for (let i = 0; i < exact.logits.length; i++)
        expect(Buffer.from(chosen.logits[i]!.buffer).equals(Buffer.from(exact.logits[i]!.buffer))).toBe(true);
      // On the reference backend, whose attention reads f32 rows, the bf16 cache does change the logits (above).
    } finally {
      backend.dispose();
    }
  });

  it('rejects an unknown format, naming the option and the value', async () => {
    await expect(
      DeepseekModel.load(new ReferenceBackend(), dir, { latentCache: 'f16' as 'bf16' }),
    ).rejects.toThrow('latentCache must be "f32", "bf16" or "fp8", got "f16"');
  });
});
