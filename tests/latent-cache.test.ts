// The bf16 latent cache option: half the cache memory, logits close to the f32 cache's (the latent rows
// are rounded to bf16 once, when written), on the reference and the native CPU backend.
import path from 'node:path';
import type { Backend } from '@dsa/backend';
import cpuBackendFactory from '@dsa/backend-cpu';
import { ReferenceBackend } from '@dsa/backend-reference';
import { DeepseekModel } from '@dsa/runtime';
import { describe, expect, it } from 'vitest';
import { maxAbsDiff } from './golden-helpers.js';

const dir = path.resolve(import.meta.dirname, '../fixtures/tiny');
const tokens = Array.from({ length: 48 }, (_, i) => (i * 131 + 7) % 1024);

async function run(backend: Backend, latentCache: 'f32' | 'bf16') {
  const model = await DeepseekModel.load(backend, dir, { cacheTokens: 128, latentCache });
  const sequence = model.cache.createSequence();
  const result = await model.forward([{ sequence, tokens }], { logits: 'all' });
  const logits = new Float32Array(tokens.length * model.config.vocabSize);
  await backend.download(result.logits, logits);
  const cache = { dtype: model.cache.latent[0]!.dtype, bytes: model.cache.latent[0]!.strides[0]! };
  model.dispose();
  return { logits, cache };
}

describe('latentCache: bf16', () => {
  for (const [name, create] of [
    ['reference', async () => new ReferenceBackend()],
    ['cpu', () => cpuBackendFactory.create()],
  ] as const) {
    it(`${name}: bf16 rows, logits within 5e-2 of the f32 cache`, async () => {
      const backend = await create();
      const exact = await run(backend, 'f32');
      const half = await run(backend, 'bf16');
      expect(exact.cache.dtype).toBe('f32');
      expect(half.cache.dtype).toBe('bf16');
      const error = maxAbsDiff(half.logits, exact.logits);
      expect(error).toBeGreaterThan(0); // the rounding is real
      expect(error).toBeLessThan(5e-2);
      backend.dispose();
    });
  }

  it('rejects an unknown element type, naming the option', async () => {
    await expect(
      DeepseekModel.load(new ReferenceBackend(), dir, { latentCache: 'f16' as 'bf16' }),
    ).rejects.toThrow(/latentCache must be "f32" or "bf16", got "f16"/);
  });
});
