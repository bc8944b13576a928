// Decode GEMV (fastLinear): out[m, n] = Σ_k x[m, k] · W[n, k] for M ≤ 16 rows, W [N, K] f32, bf16 or
// f8_e4m3 with block scales scale[n / block_n, k / block_k] (scale_cols = ceil(K / block_k)).
// x [M, K] f32 or bf16, out [M, N] f32 or bf16, all dense; K a multiple of 4. One warp per output
// column, 8 columns per CTA, grid ceil(N / 8); kernels dsa_fused_gemv_<w>_m<TM> for TM ∈ {1,2,4,8,16}
// (the smallest TM ≥ M). Bandwidth-bound: each weight byte is read once. v2 (dsa_fused_gemv2_*, the
// fastLinear default for bf16/fp8 with K % 16 == 0) is at the end of this file.
#include "row-dot.cuh"

using namespace dsa_fused;

template <int TM, int WT>
__device__ __forceinline__ void gemv_body(void* out, int out_dtype, const void* x, int x_dtype, const void* weight,
                                          const float* scales, int block_n, int block_k, int scale_cols, int m, int n,
                                          int k) {
  __shared__ __align__(16) float xs[TM * kChunkK];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int column = blockIdx.x * kRowDotWarps + warp;
  const bool active = column < n;
  const int64_t wbytes = WT == kF32 ? 4 : WT == kBF16 ? 2 : 1;
  const void* row = static_cast<const char*>(weight) + static_cast<int64_t>(active ? column : 0) * k * wbytes;
  const float* srow = WT == kF8E4M3 ? scales + static_cast<int64_t>((active ? column : 0) / block_n) * scale_cols : nullptr;
  const int xbytes = x_dtype == kF32 ? 4 : 2;
  float acc[TM] = {};
  for_each_staged_chunk<TM>(
      xs, [&](int r) { return static_cast<const char*>(x) + static_cast<int64_t>(r) * k * xbytes; }, x_dtype, m, k,
      [&](int k0, int length) {
        if (active) row_dot_chunk<TM, WT>(acc, row, srow, block_k, xs, k0, length, lane);
      });
  warp_reduce_rows<TM>(acc);
  if (active && lane == 0) {
#pragma unroll
    for (int r = 0; r < TM; r++)
      if (r < m) store_f32(out, out_dtype, static_cast<int64_t>(r) * n + column, acc[r]);
  }
}

#define DSA_GEMV(NAME, WT, TM)                                                                                    \
  extern "C" __global__ void __launch_bounds__(256) dsa_fused_gemv_##NAME##_m##TM(                               \
      void* out, int out_dtype, const void* x, int x_dtype, const void* weight, const float* scales, int block_n, \
      int block_k, int scale_cols, int m, int n, int k) {                                                         \
    gemv_body<TM, WT>(out, out_dtype, x, x_dtype, weight, scales, block_n, block_k, scale_cols, m, n, k);        \
  }
// X(ARGS..., TM) for every row tile TM ∈ {1, 2, 4, 8, 16}: the kernels of one family.
#define DSA_EACH_TM(X, ...) X(__VA_ARGS__, 1) X(__VA_ARGS__, 2) X(__VA_ARGS__, 4) X(__VA_ARGS__, 8) X(__VA_ARGS__, 16)

DSA_EACH_TM(DSA_GEMV, f32, kF32)
DSA_EACH_TM(DSA_GEMV, bf16, kBF16)
DSA_EACH_TM(DSA_GEMV, f8, kF8E4M3)

// ---- v2 (gemv-core.cuh): 4 columns per warp, 16-byte streaming loads, K split `slices` ways ----
// dsa_fused_gemv2_<bf16|f8>_m<TM>(out, out_dtype, x, x_dtype, weight, scales, block_n, block_k,
// scale_cols, m, n, k, slices): CTA of 8 warps = 8 / slices column groups of 4 columns, grid
// ceil(ceil(N / 4) / (8 / slices)); slices = gemv_slices(N, K) (a power of two ≤ 8). Requires K % 16 == 0,
// block_k % 16 == 0 (fp8), 16-byte aligned weight and x; x f32 or bf16, out f32 or bf16.
#include "gemv-core.cuh"

template <int TM, int WT, int XT>
__device__ __forceinline__ void gemv2_body(void* out, int out_dtype, const void* x, const void* weight,
                                           const float* scales, int block_n, int block_k, int scale_cols, int m,
                                           int n, int k, int slices) {
  __shared__ float red[kGemvWarps][TM * kGemvCols];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int groups_per_cta = kGemvWarps / slices;
  const int group = warp / slices, slice = warp % slices;
  const int col0 = (blockIdx.x * groups_per_cta + group) * kGemvCols;
  constexpr int64_t wbytes = WT == kBF16 ? 2 : 1;
  const void* wrow[kGemvCols];
  const float* srow[kGemvCols];
#pragma unroll
  for (int c = 0; c < kGemvCols; c++) {
    const int col = min(col0 + c, n - 1);
    wrow[c] = static_cast<const char*>(weight) + static_cast<int64_t>(col) * k * wbytes;
    srow[c] = is_fp8_weight(WT) ? scales + static_cast<int64_t>(col / block_n) * scale_cols : nullptr;
  }
  constexpr int64_t xbytes = XT == kF32 ? 4 : 2;
  const void* xrow[TM];
#pragma unroll
  for (int r = 0; r < TM; r++)
    xrow[r] = static_cast<const char*>(x) + static_cast<int64_t>(r < m ? r : 0) * k * xbytes;
  gemv_warp_to_shared<TM, WT, XT>(red[warp], wrow, srow, block_k, xrow, k, slice, slices, lane);
  __syncthreads();
  sum_slices<TM, kGemvCols>(red, groups_per_cta, slices, m, n, [&](int r, int col, float v) {
    store_f32(out, out_dtype, static_cast<int64_t>(r) * n + col, v);
  });
}

#define DSA_GEMV2(NAME, WT, TM) DSA_GEMV2_V(gemv2, NAME, WT, TM)
#define DSA_GEMV2_V(V, NAME, WT, TM)                                                                               \
  extern "C" __global__ void __launch_bounds__(256, TM <= 4 ? 2 : 1) dsa_fused_##V##_##NAME##_m##TM(            \
      void* out, int out_dtype, const void* x, int x_dtype, const void* weight, const float* scales, int block_n, \
      int block_k, int scale_cols, int m, int n, int k, int slices) {                                             \
    if (x_dtype == kF32)                                                                                           \
      gemv2_body<TM, WT, kF32>(out, out_dtype, x, weight, scales, block_n, block_k, scale_cols, m, n, k, slices);  \
    else                                                                                                           \
      gemv2_body<TM, WT, kBF16>(out, out_dtype, x, weight, scales, block_n, block_k, scale_cols, m, n, k, slices); \
  }
DSA_EACH_TM(DSA_GEMV2, bf16, kBF16)
DSA_EACH_TM(DSA_GEMV2, f8, kF8E4M3)

// ---- v3 (fp8 only; gemv-core.cuh gemv_warp_f8v3): same grid, arguments and slices as v2 ----
// dsa_fused_gemv3_f8_m<TM>: hardware e4m3x2 → f16x2 widening (sm_89+), the block scale applied once per 16
// weights, the next steps' loads issued before the current ones are computed.
DSA_EACH_TM(DSA_GEMV2_V, gemv3, f8, kF8V3)
