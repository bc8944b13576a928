import { fp8LatentRowBytes } from '@dsa/backend';

/**
 * How the MLA latent cache stores each token's `[C | R]` row: `f32` (exact), `bf16` (half the bytes), or
 * `fp8`, DeepSeek's 656-byte layout (e4m3 NoPE with one power-of-two f32 scale per 128 values, bf16 RoPE;
 * C + 4·⌈C/128⌉ + 2·R bytes), what FlashMLA's sparse decode and vLLM keep for DeepSeek-V3.2.
 */
export type LatentCacheFormat = 'f32' | 'bf16' | 'fp8';

/** Every latent cache format, in the order options list them. */
export const LATENT_CACHE_FORMATS: readonly LatentCacheFormat[] = ['f32', 'bf16', 'fp8'];

/**
 * `value` as a {@link LatentCacheFormat}; throws a RangeError naming `option` and the value otherwise
 * (`latentCache must be "f32", "bf16" or "fp8", got "f16"`).
 */
export function parseLatentCacheFormat(value: unknown, option = 'latentCache'): LatentCacheFormat {
  if (LATENT_CACHE_FORMATS.includes(value as LatentCacheFormat)) return value as LatentCacheFormat;
  throw new RangeError(`${option} must be "f32", "bf16" or "fp8", got ${JSON.stringify(value)}`);
}

/**
 * Bytes of one token's latent row in one layer: (C + R) · 4 for f32, (C + R) · 2 for bf16, and
 * C + 4·⌈C/128⌉ + 2·R for fp8 (656 at C = 512, R = 64; throws when C or R do not fit that layout).
 */
export function latentRowBytes(format: LatentCacheFormat, kvLoraRank: number, qkRopeHeadDim: number): number {
  switch (format) {
    case 'f32':
      return (kvLoraRank + qkRopeHeadDim) * 4;
    case 'bf16':
      return (kvLoraRank + qkRopeHeadDim) * 2;
    case 'fp8':
      return fp8LatentRowBytes(kvLoraRank, qkRopeHeadDim);
  }
}
