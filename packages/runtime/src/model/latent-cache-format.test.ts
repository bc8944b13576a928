import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isFp8LatentCache } from '@dsa/backend';
import { ReferenceBackend } from '@dsa/backend-reference';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../config/model-config.js';
import { PagedKvCache } from './kv-cache.js';
import { latentRowBytes, parseLatentCacheFormat } from './latent-cache-format.js';
import { summarizeModel } from './model-summary.js';

const tiny = parseModelConfig(
  JSON.parse(
    readFileSync(path.resolve(import.meta.dirname, '../../../../fixtures/tiny/config.json'), 'utf8'),
  ),
  'fixtures/tiny/config.json',
);

describe('latent cache formats', () => {
  it('parses the three formats and names the option and the value otherwise', () => {
    expect(['f32', 'bf16', 'fp8'].map((f) => parseLatentCacheFormat(f))).toEqual(['f32', 'bf16', 'fp8']);
    expect(() => parseLatentCacheFormat('f16')).toThrow(
      'latentCache must be "f32", "bf16" or "fp8", got "f16"',
    );
    expect(() => parseLatentCacheFormat(undefined, '--latent-cache')).toThrow(
      '--latent-cache must be "f32", "bf16" or "fp8", got undefined',
    );
  });

  it("sizes rows as f32, bf16 and DeepSeek's 656-byte fp8 layout", () => {
    expect([
      latentRowBytes('f32', 512, 64),
      latentRowBytes('bf16', 512, 64),
      latentRowBytes('fp8', 512, 64),
    ]).toEqual([2304, 1152, 656]);
    // fixtures/tiny: C = 32, R = 8, 4 layers: one block of 32 e4m3, one f32 scale, 8 bf16 values
    expect(summarizeModel(tiny, { latentCache: 'fp8' }).latentCacheBytesPerToken).toBe((32 + 4 + 16) * 4);
    expect(summarizeModel(tiny).latentCacheBytesPerToken).toBe(40 * 4 * 4);
  });

  it('gives every layer an fp8 cache of one u8 buffer, the scratch block included', () => {
    const backend = new ReferenceBackend();
    const cache = new PagedKvCache(backend, tiny, {
      tokens: 128,
      indexerPrecision: 'fp8',
      latentCache: 'fp8',
    });
    const slots = (cache.numBlocks + 1) * cache.blockSize;
    expect(cache.latentFormat).toBe('fp8');
    expect(cache.latentRowBytes).toBe(52);
    expect(cache.latent).toHaveLength(tiny.nLayers);
    for (const latent of cache.latent) {
      if (!isFp8LatentCache(latent)) throw new Error('expected an fp8 latent cache');
      expect(latent.packed.shape).toEqual([slots, 52]);
      expect(latent.packed.buffer.byteLength).toBe(slots * 52);
    }
    // latent rows + indexer keys (16 e4m3) and their f32 scales, per layer
    expect(cache.byteLength).toBe(tiny.nLayers * slots * (52 + 16 + 4));
    cache.dispose();
  });

  it('refuses fp8 rows for a config whose kv_lora_rank is not a multiple of 4, naming the field', () => {
    const odd = { ...tiny, kvLoraRank: 30 };
    expect(
      () =>
        new PagedKvCache(new ReferenceBackend(), odd, {
          tokens: 64,
          indexerPrecision: 'fp32',
          latentCache: 'fp8',
        }),
    ).toThrow(/kv_lora_rank to be a positive multiple of 4.*got 30/);
  });
});
