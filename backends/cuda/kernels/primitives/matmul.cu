// Batched matmul: out[b] = alpha * a[b] * op(b[b]) over rank-3 strided views (batch stride 0
// broadcasts), a / b f32, bf16 or f16, f32 accumulation in k order. One thread per output element.
#include "../common/tensor.cuh"

using namespace dsa;

extern "C" __global__ void dsa_matmul(Tensor out, Tensor a, Tensor b, int32_t transposeB, float alpha) {
  const int64_t B = out.shape[0], M = out.shape[1], N = out.shape[2], K = a.shape[2];
  DSA_FOR(e, B * M * N) {
    const int64_t n = e % N, m = (e / N) % M, batch = e / (M * N);
    const int64_t ao = batch * a.strides[0] + m * a.strides[1];
    const int64_t bo = batch * b.strides[0] + (transposeB ? n * b.strides[1] : n * b.strides[2]);
    const int64_t bk = transposeB ? b.strides[2] : b.strides[1];
    float acc = 0.0f;
    for (int64_t k = 0; k < K; k++) acc = fmaf(loadf(a, ao + k * a.strides[2]), loadf(b, bo + k * bk), acc);
    storef(out, batch * out.strides[0] + m * out.strides[1] + n * out.strides[2], __fmul_rn(alpha, acc));
  }
}

// Decode shapes (M ≤ 16, e.g. the absorbed MLA's per-head q · W_UK and o · W_UVᵀ): f32 activations,
// f32 or bf16 weights with a contiguous inner dimension, every row and batch start 16-byte aligned
// (src/kernels/matmul.ts checks). 16-byte weight loads, several in flight per lane; the K reduction is
// split the same way for every M, so a row's result does not depend on the rows beside it.
// Kernels dsa_matmul_dec_<nn|nt>_<f32|bf16>_m<TM> for TM ∈ {1, 2, 4, 8, 16} (the smallest TM ≥ M).
// Arguments: (out, out_batch_stride, out_row_stride, a, a_batch_stride, a_row_stride, b, b_batch_stride,
// b_row_stride, m, n, k, alpha); strides in elements; out and a are f32, inner strides 1.

// Four consecutive weights from a 16-byte (f32) or 8-byte (bf16) aligned address.
__device__ __forceinline__ void load4w(const float* p, float (&w)[4]) {
  const float4 v = __ldg(reinterpret_cast<const float4*>(p));
  w[0] = v.x;
  w[1] = v.y;
  w[2] = v.z;
  w[3] = v.w;
}
__device__ __forceinline__ void load4w(const __nv_bfloat16* p, float (&w)[4]) {
  const uint2 v = __ldg(reinterpret_cast<const uint2*>(p));
  w[0] = __uint_as_float(v.x << 16);
  w[1] = __uint_as_float(v.x & 0xffff0000u);
  w[2] = __uint_as_float(v.y << 16);
  w[3] = __uint_as_float(v.y & 0xffff0000u);
}

constexpr int kDecWarps = 8;

// op(b) = b, b[k, n] (n contiguous): grid (ceil(N / 128), B), 256 threads. Thread = 4 consecutive
// columns, warp w sums its K/8 slice in k order; the 8 warp partials are added in warp order.
template <int TM, typename TB>
__device__ __forceinline__ void dec_nn(float* out, int64_t os0, int64_t os1, const float* a, int64_t as0,
                                       int64_t as1, const TB* b, int64_t bs0, int64_t bs1, int m, int n, int k,
                                       float alpha) {
  __shared__ float partial[kDecWarps][128];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t batch = blockIdx.y;
  const int n0 = blockIdx.x * 128 + 4 * lane;
  const int slice = (k + kDecWarps - 1) / kDecWarps;
  const int k0 = warp * slice, k1 = min(k, k0 + slice);
  float acc[TM][4] = {};
  if (n0 < n) {
    const TB* col = b + batch * bs0 + n0;
    const float* rows = a + batch * as0;
#pragma unroll 4
    for (int kk = k0; kk < k1; kk++) {
      float w[4];
      load4w(col + kk * bs1, w);
#pragma unroll
      for (int r = 0; r < TM; r++) {
        const float x = r < m ? rows[r * as1 + kk] : 0.0f;
#pragma unroll
        for (int c = 0; c < 4; c++) acc[r][c] = fmaf(x, w[c], acc[r][c]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < TM; r++) {
    if (r >= m) break;
#pragma unroll
    for (int c = 0; c < 4; c++) partial[warp][4 * lane + c] = acc[r][c];
    __syncthreads();
    const int column = blockIdx.x * 128 + threadIdx.x;
    if (threadIdx.x < 128 && column < n) {
      float sum = partial[0][threadIdx.x];
      for (int w = 1; w < kDecWarps; w++) sum += partial[w][threadIdx.x];
      out[batch * os0 + r * os1 + column] = __fmul_rn(alpha, sum);
    }
    __syncthreads();
  }
}

// op(b) = bᵀ, b[n, k] (k contiguous): grid (ceil(N / 8), B), 256 threads. Warp = column; lane sums
// k ∈ [4·lane + 128·i, +4) in order, then a butterfly over the warp.
template <int TM, typename TB>
__device__ __forceinline__ void dec_nt(float* out, int64_t os0, int64_t os1, const float* a, int64_t as0,
                                       int64_t as1, const TB* b, int64_t bs0, int64_t bs1, int m, int n, int k,
                                       float alpha) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t batch = blockIdx.y;
  const int column = blockIdx.x * kDecWarps + warp;
  if (column >= n) return;
  const TB* row = b + batch * bs0 + column * bs1;
  const float* rows = a + batch * as0;
  float acc[TM] = {};
#pragma unroll 4
  for (int kk = 4 * lane; kk < k; kk += 128) {
    float w[4];
    load4w(row + kk, w);
#pragma unroll
    for (int r = 0; r < TM; r++) {
      if (r < m) {
        const float4 x = __ldg(reinterpret_cast<const float4*>(rows + r * as1 + kk));
        acc[r] = fmaf(x.x, w[0], acc[r]);
        acc[r] = fmaf(x.y, w[1], acc[r]);
        acc[r] = fmaf(x.z, w[2], acc[r]);
        acc[r] = fmaf(x.w, w[3], acc[r]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < TM; r++) {
    if (r >= m) break;
    float v = acc[r];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) out[batch * os0 + r * os1 + column] = __fmul_rn(alpha, v);
  }
}

#define DSA_MATMUL_DEC(OP, NAME, TB, TM)                                                                       \
  extern "C" __global__ void __launch_bounds__(kDecWarps * 32) dsa_matmul_dec_##OP##_##NAME##_m##TM(           \
      float* out, int64_t os0, int64_t os1, const float* a, int64_t as0, int64_t as1, const TB* b, int64_t bs0, \
      int64_t bs1, int m, int n, int k, float alpha) {                                                         \
    dec_##OP<TM, TB>(out, os0, os1, a, as0, as1, b, bs0, bs1, m, n, k, alpha);                                \
  }
#define DSA_MATMUL_DEC_ALL(OP, NAME, TB) \
  DSA_MATMUL_DEC(OP, NAME, TB, 1)        \
  DSA_MATMUL_DEC(OP, NAME, TB, 2)        \
  DSA_MATMUL_DEC(OP, NAME, TB, 4)        \
  DSA_MATMUL_DEC(OP, NAME, TB, 8)        \
  DSA_MATMUL_DEC(OP, NAME, TB, 16)

DSA_MATMUL_DEC_ALL(nn, f32, float)
DSA_MATMUL_DEC_ALL(nn, bf16, __nv_bfloat16)
DSA_MATMUL_DEC_ALL(nt, f32, float)
DSA_MATMUL_DEC_ALL(nt, bf16, __nv_bfloat16)
