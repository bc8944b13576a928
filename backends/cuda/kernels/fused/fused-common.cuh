// Shared device helpers of the fused kernels: dtype codes, element loads/stores in f32, warp
// reductions, the online-softmax step and the order-preserving key of an f32 score. Header-only; every
// fused .cu includes it.
#pragma once
#include <cuda_fp16.h>
#include <stdint.h>
#include <string.h>

namespace dsa_fused {

// dtype codes passed by the TypeScript wrappers (src/fused/dtype-code.ts keeps the same numbers).
enum DTypeCode : int { kF32 = 0, kBF16 = 1, kF16 = 2, kF8E4M3 = 3 };

__device__ __forceinline__ float bf16_bits_to_f32(uint32_t bits) { return __uint_as_float(bits << 16); }

// f32 -> bf16 bits, round to nearest even, NaN kept quiet.
__device__ __forceinline__ uint16_t f32_to_bf16_bits(float f) {
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

__device__ __forceinline__ float f16_bits_to_f32(uint16_t bits) {
  return __half2float(__ushort_as_half(bits));
}

// OCP e4m3fn byte -> f32 (exact): bias 7, no infinities, 0x7f/0xff = NaN.
__host__ __device__ __forceinline__ float fp8_e4m3_to_f32(uint32_t v) {
  const uint32_t e = (v >> 3) & 15u, m = v & 7u;
  uint32_t bits;
  if (e == 0) {
    const float sub = static_cast<float>(m) * 0.001953125f;  // m · 2^-9
    return (v & 0x80u) ? -sub : sub;
  }
  bits = (e == 15 && m == 7) ? 0x7fc00000u : (((e + 120u) << 23) | (m << 20));
  float r;
  memcpy(&r, &bits, 4);
  return (v & 0x80u) ? -r : r;
}

// Element i of a dense array of dtype `dtype`, widened to f32.
__device__ __forceinline__ float load_f32(const void* base, int dtype, int64_t i) {
  switch (dtype) {
    case kF32: return static_cast<const float*>(base)[i];
    case kBF16: return bf16_bits_to_f32(static_cast<const uint16_t*>(base)[i]);
    case kF16: return f16_bits_to_f32(static_cast<const uint16_t*>(base)[i]);
    default: return fp8_e4m3_to_f32(static_cast<const uint8_t*>(base)[i]);
  }
}

// Stores f32 `v` as element i of a dense array of dtype `dtype` (f32, bf16 or f16).
__device__ __forceinline__ void store_f32(void* base, int dtype, int64_t i, float v) {
  switch (dtype) {
    case kF32: static_cast<float*>(base)[i] = v; break;
    case kBF16: static_cast<uint16_t*>(base)[i] = f32_to_bf16_bits(v); break;
    default: static_cast<uint16_t*>(base)[i] = __half_as_ushort(__float2half_rn(v)); break;
  }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ double warp_sum_f64(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// One head's online-softmax update for a tile of scores (flash attention): `max` = the new running max
// (old_max and the tile's max), p = the weight of score x under it and alpha = the factor that rescales the
// old (sum, acc); -inf marks "nothing yet" (p = 0 for a -inf score, alpha = 0 for an empty old state).
struct OnlineSoftmax {
  float max, p, alpha;
};
__device__ __forceinline__ OnlineSoftmax online_softmax(float x, float old_max, float tile_max) {
  OnlineSoftmax s;
  s.max = fmaxf(old_max, tile_max);
  s.p = 0;
  s.alpha = 1;
  if (s.max != -INFINITY) {
    s.p = x == -INFINITY ? 0.0f : expf(x - s.max);
    s.alpha = old_max == -INFINITY ? 0.0f : expf(old_max - s.max);
  }
  return s;
}
// Stores the head's new running state (one lane, once the tile's sum of p is known): the max,
// running_sum · alpha + sum, and alpha for rescaling the accumulators.
__device__ __forceinline__ void online_softmax_commit(const OnlineSoftmax& s, float sum, float& running_max,
                                                      float& running_sum, float& rescale) {
  running_max = s.max;
  running_sum = running_sum * s.alpha + sum;
  rescale = s.alpha;
}

// Order-preserving unsigned key of an f32: a > b  <=>  key(a) > key(b) for non-NaN a, b.
__host__ __device__ __forceinline__ uint32_t order_key(uint32_t bits) {
  return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

// Pool slot of logical position t of sequence row `seq`, or -1 when the block table has no block.
__device__ __forceinline__ int64_t slot_of(const int32_t* block_table, int max_blocks, int block_size, int seq,
                                           int64_t t) {
  if (t < 0) return -1;
  const int64_t b = t / block_size;
  if (b >= max_blocks) return -1;
  const int32_t block = block_table[static_cast<int64_t>(seq) * max_blocks + b];
  if (block < 0) return -1;
  return static_cast<int64_t>(block) * block_size + t % block_size;
}

}  // namespace dsa_fused
