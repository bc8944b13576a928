import type { BufferHandle } from '@dsa/tensor';
import { describe, expect, it } from 'vitest';
import { fp8LatentCache, fp8LatentRowBytes } from './fp8-latent-cache.js';
import { isFp8LatentCache, latentCacheShape } from './latent-cache.js';

/** A buffer handle of `byteLength` bytes (the views only need its size). */
const buffer = (byteLength: number): BufferHandle => ({ byteLength, device: 'test' });

describe('the fp8 latent cache layout', () => {
  it("is DeepSeek's 656-byte row at kv_lora_rank 512, qk_rope_head_dim 64", () => {
    expect(fp8LatentRowBytes(512, 64)).toBe(512 + 4 * 4 + 2 * 64);
    expect(fp8LatentRowBytes(512, 64)).toBe(656);
    const cache = fp8LatentCache(buffer(10 * 656), 10, 512, 64);
    expect(cache).toMatchObject({ format: 'fp8', kvLoraRank: 512, qkRopeHeadDim: 64, rowBytes: 656 });
    // bytes 0-511 e4m3, 512-527 four f32 scales, 528-655 64 bf16 values, rows 656 bytes apart
    expect(cache.packed).toMatchObject({ dtype: 'u8', byteOffset: 0, shape: [10, 656], strides: [656, 1] });
    expect(cache.nope).toMatchObject({
      dtype: 'f8_e4m3',
      byteOffset: 0,
      shape: [10, 512],
      strides: [656, 1],
    });
    expect(cache.scales).toMatchObject({ dtype: 'f32', byteOffset: 512, shape: [10, 4], strides: [164, 1] });
    expect(cache.rope).toMatchObject({ dtype: 'bf16', byteOffset: 528, shape: [10, 64], strides: [328, 1] });
  });

  it('keeps a partial last scale block and offsets every view by the cache start', () => {
    // C = 200: blocks of 128 and 72, two scales; R = 6: 200 + 8 + 12 = 220 bytes
    const cache = fp8LatentCache(buffer(64 + 3 * 220), 3, 200, 6, 64);
    expect(cache.rowBytes).toBe(220);
    expect(cache.scales).toMatchObject({ byteOffset: 64 + 200, shape: [3, 2], strides: [55, 1] });
    expect(cache.rope).toMatchObject({ byteOffset: 64 + 208, shape: [3, 6], strides: [110, 1] });
    expect(latentCacheShape(cache)).toEqual([3, 206]);
    expect(isFp8LatentCache(cache)).toBe(true);
    expect(isFp8LatentCache(cache.packed)).toBe(false);
    expect(latentCacheShape(cache.packed)).toEqual([3, 220]);
  });

  it('refuses sizes whose scales or RoPE values would be misaligned, naming the config field', () => {
    expect(() => fp8LatentRowBytes(30, 64)).toThrow(/kv_lora_rank to be a positive multiple of 4.*got 30/);
    expect(() => fp8LatentRowBytes(0, 64)).toThrow(/kv_lora_rank/);
    expect(() => fp8LatentRowBytes(512, 63)).toThrow(/qk_rope_head_dim to be even.*got 63/);
    expect(() => fp8LatentCache(buffer(1000), 1, 512, 64, 2)).toThrow(/4-byte aligned, got byte offset 2/);
    expect(() => fp8LatentCache(buffer(655), 1, 512, 64)).toThrow(/spans \[0, 656\).*655 bytes/);
  });
});
