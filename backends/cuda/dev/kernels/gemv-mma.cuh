// Tensor-core decode GEMV (v4; lost to gemv-core.cuh, no longer launched): out[m, n] = Σ_k x[m, k] · W[n, k] for M ≤ 16
// with mma.sync m16n8k16 bf16 → f32, the M ≤ 16 activation rows as the A tile (rows ≥ M are zero) and
// 8 weight rows (output columns) as the B tile of one warp; the same kernel serves every M, and a row's
// result never depends on the other rows (each D element only sees its own A row).
//
// K is walked in steps of kMmaStep = 128 (one fp8 scale block): lane (g = lane / 4, t = lane % 4) streams
// column col0 + g's bytes k0 + 16t .. +15 and k0 + 64 + 16t .. +15 (fp8, 2 × 16 B) or k0 + 32u + 8t .. +7,
// u < 4 (bf16, 4 × 16 B); each 4 consecutive k of those form one lane's B fragment of one mma (the k
// order inside an mma is a permutation applied equally to A and B). fp8 e4m3 is widened exactly to
// bf16 (e4m3 → f16 → f32 → bf16, all exact); an fp8 step is summed from zero, then acc += D · scale.
// x bf16 is used as is; x f32 as hi + lo bf16 terms (two mmas: ~2^-17 relative per element).
// Deterministic: the mma sequence of a (row, column) pair depends only on the shape and `slices`
// (a function of [N, K]: gemv4_slices); slices are added in order through shared memory.
#pragma once
#include <cuda_bf16.h>
#include "../../kernels/fused/gemv-core.cuh"
#include "../../kernels/fused/mma-common.cuh"

namespace dsa_fused {

constexpr int kMmaCols = 8;    // output columns per warp
constexpr int kMmaStep = 128;  // k per warp step
constexpr int kMmaRows = 16;   // activation rows (M ≤ 16)

// K slices per 8-column group for an [N, K] weight (shape only: determinism). src/fused/linear.ts copies it.
__host__ __device__ inline int gemv4_slices(int n, int k) {
  const int steps = k / kMmaStep, groups = (n + kMmaCols - 1) / kMmaCols;
  int s = 1;
  while (s < kGemvWarps && groups * s < 4096 && 4 * s <= steps) s *= 2;
  return s;
}

// A fragments (hi, and lo for f32 x) of k = base .. base + 3 for rows g (xa) and g + 8 (xb); null = zero row.
template <int XT>
__device__ __forceinline__ void load_a(const void* xa, const void* xb, int base, uint32_t (&hi)[4], uint32_t (&lo)[4]) {
  const void* rows[2] = {xa, xb};
#pragma unroll
  for (int h = 0; h < 2; h++) {
    uint32_t p0 = 0, p1 = 0, q0 = 0, q1 = 0;  // (k, k+1), (k+2, k+3): hi; q: lo
    if (rows[h] != nullptr) {
      if constexpr (XT == kBF16) {
        const uint2 v = __ldg(reinterpret_cast<const uint2*>(static_cast<const uint16_t*>(rows[h]) + base));
        p0 = v.x;
        p1 = v.y;
      } else {
        const float4 v = __ldg(reinterpret_cast<const float4*>(static_cast<const float*>(rows[h]) + base));
        p0 = bf16x2(v.x, v.y);
        p1 = bf16x2(v.z, v.w);
        q0 = bf16x2(v.x - bf16_bits_to_f32(p0 & 0xffffu), v.y - bf16_bits_to_f32(p0 >> 16));
        q1 = bf16x2(v.z - bf16_bits_to_f32(p1 & 0xffffu), v.w - bf16_bits_to_f32(p1 >> 16));
      }
    }
    // a0 = (row g, k 0-1), a1 = (row g+8, k 0-1), a2 = (row g, k 2-3), a3 = (row g+8, k 2-3)
    hi[h] = p0;
    hi[2 + h] = p1;
    lo[h] = q0;
    lo[2 + h] = q1;
  }
}

// One lane's B fragment (b0 = k 0-1, b1 = k 2-3) from 4 e4m3 bytes, exact.
__device__ __forceinline__ void fp8x4_to_bf16_pairs(uint32_t v, uint32_t& b0, uint32_t& b1) {
  float w[4];
  fp8x4_to_f32(v, w);
  b0 = bf16x2(w[0], w[1]);
  b1 = bf16x2(w[2], w[3]);
}

template <int WT, int XT>
__device__ __forceinline__ void gemv4_step(float (&acc)[4], const uint4 (&raw)[4], float scale, const void* xa,
                                           const void* xb, int k0, int t) {
  constexpr bool kSplitX = XT == kF32;
  if constexpr (WT == kBF16) {
#pragma unroll
    for (int u = 0; u < 4; u++)
#pragma unroll
      for (int j = 0; j < 2; j++) {
        uint32_t hi[4], lo[4];
        load_a<XT>(xa, xb, k0 + 32 * u + 8 * t + 4 * j, hi, lo);
        const uint32_t b0 = quad_word(raw[u], 2 * j), b1 = quad_word(raw[u], 2 * j + 1);
        mma_m16n8k16_bf16(acc, hi, b0, b1);
        if (kSplitX) mma_m16n8k16_bf16(acc, lo, b0, b1);
      }
  } else {
    float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int u = 0; u < 2; u++)
#pragma unroll
      for (int j = 0; j < 4; j++) {
        uint32_t hi[4], lo[4];
        load_a<XT>(xa, xb, k0 + 64 * u + 16 * t + 4 * j, hi, lo);
        uint32_t b0, b1;
        fp8x4_to_bf16_pairs(quad_word(raw[u], j), b0, b1);
        mma_m16n8k16_bf16(d, hi, b0, b1);
        if (kSplitX) mma_m16n8k16_bf16(d, lo, b0, b1);
      }
#pragma unroll
    for (int i = 0; i < 4; i++) acc[i] = fmaf(d[i], scale, acc[i]);
  }
}

template <int WT>
__device__ __forceinline__ void gemv4_load(uint4 (&raw)[4], const void* wrow, int k0, int t) {
  if constexpr (WT == kBF16) {
#pragma unroll
    for (int u = 0; u < 4; u++) raw[u] = load_stream16(static_cast<const uint16_t*>(wrow) + k0 + 32 * u + 8 * t);
  } else {
#pragma unroll
    for (int u = 0; u < 2; u++) raw[u] = load_stream16(static_cast<const uint8_t*>(wrow) + k0 + 64 * u + 16 * t);
    raw[2] = raw[3] = make_uint4(0, 0, 0, 0);
  }
}

// Requires K % 128 == 0; fp8: block_k % 128 == 0 and block_n % 8 == 0; 16-byte aligned weight and x.
template <int WT, int XT>
__device__ __forceinline__ void gemv4_body(void* out, int out_dtype, const void* x, const void* weight,
                                           const float* scales, int block_n, int block_k, int scale_cols, int m,
                                           int n, int k, int slices) {
  __shared__ float red[kGemvWarps][kMmaRows * kMmaCols];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int groups_per_cta = kGemvWarps / slices;
  const int group = warp / slices, slice = warp % slices;
  const int col0 = (blockIdx.x * groups_per_cta + group) * kMmaCols;
  constexpr int64_t wbytes = WT == kBF16 ? 2 : 1;
  const void* wrow = static_cast<const char*>(weight) + static_cast<int64_t>(min(col0 + g, n - 1)) * k * wbytes;
  const float* srow = WT == kBF16 ? nullptr : scales + static_cast<int64_t>(min(col0, n - 1) / block_n) * scale_cols;
  constexpr int64_t xbytes = XT == kF32 ? 4 : 2;
  const void* xa = g < m ? static_cast<const char*>(x) + static_cast<int64_t>(g) * k * xbytes : nullptr;
  const void* xb = g + 8 < m ? static_cast<const char*>(x) + static_cast<int64_t>(g + 8) * k * xbytes : nullptr;
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  const int steps = k / kMmaStep;
  for (int s = slice; s < steps; s += 2 * slices) {  // two steps in flight
    const int sb = s + slices;
    uint4 ra[4], rb[4];
    gemv4_load<WT>(ra, wrow, s * kMmaStep, t);
    if (sb < steps) gemv4_load<WT>(rb, wrow, sb * kMmaStep, t);
    const float sa_scale = WT == kBF16 ? 1.0f : __ldg(srow + s * kMmaStep / block_k);
    const float sb_scale = WT == kBF16 || sb >= steps ? 1.0f : __ldg(srow + sb * kMmaStep / block_k);
    gemv4_step<WT, XT>(acc, ra, sa_scale, xa, xb, s * kMmaStep, t);
    if (sb < steps) gemv4_step<WT, XT>(acc, rb, sb_scale, xa, xb, sb * kMmaStep, t);
  }
  // D fragment: acc0/1 = (row g, cols 2t, 2t+1), acc2/3 = (row g+8, cols 2t, 2t+1)
  red[warp][g * kMmaCols + 2 * t] = acc[0];
  red[warp][g * kMmaCols + 2 * t + 1] = acc[1];
  red[warp][(g + 8) * kMmaCols + 2 * t] = acc[2];
  red[warp][(g + 8) * kMmaCols + 2 * t + 1] = acc[3];
  __syncthreads();
  sum_slices<kMmaRows, kMmaCols>(red, groups_per_cta, slices, m, n, [&](int r, int col, float v) {
    store_f32(out, out_dtype, static_cast<int64_t>(r) * n + col, v);
  });
}

}  // namespace dsa_fused
