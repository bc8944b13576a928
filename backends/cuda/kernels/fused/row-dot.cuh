// Warp-per-output-column dot products of up to 16 activation rows with one weight row, the core of
// the decode GEMV (gemv.cu) and of the grouped expert GEMMs (moe-experts.cu).
//
// Activations are staged in shared memory as f32 [TM][kChunkK] chunks; a warp walks its weight row
// in 128-wide sub-blocks, lane l reading weights k = kb + 4l .. 4l + 3 (f32, bf16 or f8_e4m3; fp8 times
// its block scale). Every row's sum is formed in the same order whatever TM and the other rows are
// (explicit fmaf, fixed lane split, fixed shuffle tree): a token gets bit-identical results alone or
// batched.
#pragma once
#include "fused-common.cuh"

namespace dsa_fused {

constexpr int kChunkK = 512;
constexpr int kRowDotWarps = 8;

template <int WT>
struct Weights4;

template <>
struct Weights4<kF32> {
  __device__ __forceinline__ static void load(const void* row, int k, float (&w)[4]) {
    const float4 v = *reinterpret_cast<const float4*>(static_cast<const float*>(row) + k);
    w[0] = v.x;
    w[1] = v.y;
    w[2] = v.z;
    w[3] = v.w;
  }
};

template <>
struct Weights4<kBF16> {
  __device__ __forceinline__ static void load(const void* row, int k, float (&w)[4]) {
    const uint2 v = *reinterpret_cast<const uint2*>(static_cast<const uint16_t*>(row) + k);
    w[0] = __uint_as_float(v.x << 16);
    w[1] = __uint_as_float(v.x & 0xffff0000u);
    w[2] = __uint_as_float(v.y << 16);
    w[3] = __uint_as_float(v.y & 0xffff0000u);
  }
};

template <>
struct Weights4<kF8E4M3> {
  __device__ __forceinline__ static void load(const void* row, int k, float (&w)[4]) {
    const uint32_t v = *reinterpret_cast<const uint32_t*>(static_cast<const uint8_t*>(row) + k);
#pragma unroll
    for (int i = 0; i < 4; i++) w[i] = fp8_e4m3_to_f32((v >> (8 * i)) & 0xffu);
  }
};

// acc[r] += Σ_{k in chunk} xs[r][k] · W[k] for the weight row `row` (element 0 = column k0 of the chunk).
// `scales` = the block-scale row of this output column (f8 only), `block_k` its block width.
template <int TM, int WT>
__device__ __forceinline__ void row_dot_chunk(float (&acc)[TM], const void* row, const float* scales, int block_k,
                                              const float* xs, int k0, int length, int lane) {
#pragma unroll 4
  for (int kb = 0; kb < length; kb += 128) {
    const int k = kb + lane * 4;
    if (k < length) {
      float w[4];
      Weights4<WT>::load(row, k0 + k, w);
      float s = 1.0f;
      if (WT == kF8E4M3) s = scales[(k0 + k) / block_k];
#pragma unroll
      for (int r = 0; r < TM; r++) {
        const float4 x = *reinterpret_cast<const float4*>(xs + r * kChunkK + k);
        float p = __fmul_rn(w[0], x.x);
        p = fmaf(w[1], x.y, p);
        p = fmaf(w[2], x.z, p);
        p = fmaf(w[3], x.w, p);
        acc[r] = WT == kF8E4M3 ? fmaf(p, s, acc[r]) : __fadd_rn(acc[r], p);
      }
    }
  }
}

// Stages rows [0, rows) of chunk k0 of the activations into xs (f32 [TM][kChunkK]); rows ≥ `rows`
// are zero. row_ptr(r) gives the address of activation row r (dtype x_dtype, dense).
template <int TM, class RowPtr>
__device__ __forceinline__ void stage_rows(float* xs, RowPtr row_ptr, int x_dtype, int rows, int k0, int length) {
  for (int e = threadIdx.x; e < TM * kChunkK; e += blockDim.x) {
    const int r = e / kChunkK, k = e % kChunkK;
    xs[e] = (r < rows && k < length) ? load_f32(row_ptr(r), x_dtype, k0 + k) : 0.0f;
  }
}

// Walks K in kChunkK chunks: the CTA stages each chunk of activation rows [0, rows) into xs (stage_rows),
// then `use(k0, length)` consumes it. All threads must call it.
template <int TM, class RowPtr, class Use>
__device__ __forceinline__ void for_each_staged_chunk(float* xs, RowPtr row_ptr, int x_dtype, int rows, int K, Use use) {
  for (int k0 = 0; k0 < K; k0 += kChunkK) {
    const int length = min(kChunkK, K - k0);
    __syncthreads();
    stage_rows<TM>(xs, row_ptr, x_dtype, rows, k0, length);
    __syncthreads();
    use(k0, length);
  }
}

template <int TM>
__device__ __forceinline__ void warp_reduce_rows(float (&acc)[TM]) {
#pragma unroll
  for (int r = 0; r < TM; r++) acc[r] = warp_sum(acc[r]);
}

}  // namespace dsa_fused
