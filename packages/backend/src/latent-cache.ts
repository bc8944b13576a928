import type { TensorView } from '@dsa/tensor';
import type { Fp8LatentCache } from './fp8-latent-cache.js';

/**
 * The MLA latent cache of one layer as the attention kernels take it: one `[C | R]` row per cache slot,
 * either a `[slots, C+R]` f32 or bf16 view (a value per element) or DeepSeek's fp8 rows
 * ({@link Fp8LatentCache}: e4m3 NoPE with power-of-two block scales, bf16 RoPE; 656 bytes at 512 + 64).
 * Both read back as the same `[slots, C+R]` values; kernels tell them apart with {@link isFp8LatentCache}.
 */
export type LatentCache = TensorView | Fp8LatentCache;

/** Whether `cache` is the fp8 row layout (else an f32/bf16 `[slots, C+R]` view). */
export function isFp8LatentCache(cache: LatentCache): cache is Fp8LatentCache {
  return 'format' in cache && cache.format === 'fp8';
}

/** `[slots, C+R]`: cache slots and values per row (C + R) of either layout. */
export function latentCacheShape(cache: LatentCache): [number, number] {
  if (isFp8LatentCache(cache)) return [cache.packed.shape[0]!, cache.kvLoraRank + cache.qkRopeHeadDim];
  return [cache.shape[0]!, cache.shape[1]!];
}
