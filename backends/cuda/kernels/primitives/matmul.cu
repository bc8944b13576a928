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

// Decode shapes (M ≤ kRowsMax, e.g. the absorbed MLA's per-head q · W_UK and o · W_UVᵀ): warps share
// the K reduction so each weight element is read once per CTA with coalesced loads, and the loops keep
// several loads in flight. The K split is fixed (it does not depend on M), so a row's result is the
// same for every M ≤ kRowsMax.
constexpr int kRowsMax = 16;
constexpr int kRowsWarps = 8;

// Element `off` of a f32 / bf16 / f16 tensor (the dtypes matmul takes) without loadf's general switch.
template <typename T>
__device__ __forceinline__ float load_as(const Tensor& t, int64_t off) {
  const T v = reinterpret_cast<const T*>(t.ptr)[off];
  if constexpr (sizeof(T) == 4) return v;
  else return static_cast<float>(v);
}
__device__ __forceinline__ float load_float(const Tensor& t, int64_t off) {
  if (t.dtype == BF16) return load_as<__nv_bfloat16>(t, off);
  if (t.dtype == F16) return load_as<__half>(t, off);
  return load_as<float>(t, off);
}

// op(b) = b, b[k, n]: lane = column, warp w sums its K/8 slice in k order; the 8 warp partials are then
// added in warp order. Returns the lane's sums for rows < M in acc.
template <typename TB>
__device__ __forceinline__ void rows_nn(const Tensor& a, const Tensor& b, int64_t batch, int64_t n, int64_t k0,
                                        int64_t k1, int64_t M, float (&acc)[kRowsMax]) {
  const int64_t bo = batch * b.strides[0] + n * b.strides[2];
  const int64_t ao = batch * a.strides[0];
#pragma unroll 8
  for (int64_t k = k0; k < k1; k++) {
    const float bv = load_as<TB>(b, bo + k * b.strides[1]);
#pragma unroll
    for (int m = 0; m < kRowsMax; m++)
      if (m < M) acc[m] = fmaf(load_float(a, ao + m * a.strides[1] + k * a.strides[2]), bv, acc[m]);
  }
}

// grid (ceil(N / 32), B), 256 threads.
extern "C" __global__ void __launch_bounds__(kRowsWarps * 32)
    dsa_matmul_rows_nn(Tensor out, Tensor a, Tensor b, float alpha) {
  __shared__ float partial[kRowsWarps][kRowsMax][32];
  const int64_t M = out.shape[1], N = out.shape[2], K = a.shape[2];
  const int64_t batch = blockIdx.y;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t n = static_cast<int64_t>(blockIdx.x) * 32 + lane;
  const int64_t slice = (K + kRowsWarps - 1) / kRowsWarps;
  const int64_t k0 = warp * slice, k1 = k0 + slice < K ? k0 + slice : K;
  float acc[kRowsMax] = {};
  if (n < N) {
    if (b.dtype == BF16) rows_nn<__nv_bfloat16>(a, b, batch, n, k0, k1, M, acc);
    else if (b.dtype == F16) rows_nn<__half>(a, b, batch, n, k0, k1, M, acc);
    else rows_nn<float>(a, b, batch, n, k0, k1, M, acc);
  }
#pragma unroll
  for (int m = 0; m < kRowsMax; m++)
    if (m < M) partial[warp][m][lane] = acc[m];
  __syncthreads();
  for (int t = threadIdx.x; t < M * 32; t += kRowsWarps * 32) {
    const int m = t >> 5, l = t & 31;
    const int64_t col = static_cast<int64_t>(blockIdx.x) * 32 + l;
    if (col >= N) continue;
    float sum = partial[0][m][l];
    for (int w = 1; w < kRowsWarps; w++) sum += partial[w][m][l];
    storef(out, batch * out.strides[0] + m * out.strides[1] + col * out.strides[2], __fmul_rn(alpha, sum));
  }
}

// op(b) = bᵀ, b[n, k]: warp = column; lane sums k ≡ lane (mod 32) in k order.
template <typename TB>
__device__ __forceinline__ void rows_nt(const Tensor& a, const Tensor& b, int64_t batch, int64_t n, int lane,
                                        int64_t K, int64_t M, float (&acc)[kRowsMax]) {
  const int64_t bo = batch * b.strides[0] + n * b.strides[1];
  const int64_t ao = batch * a.strides[0];
#pragma unroll 4
  for (int64_t k = lane; k < K; k += 32) {
    const float bv = load_as<TB>(b, bo + k * b.strides[2]);
#pragma unroll
    for (int m = 0; m < kRowsMax; m++)
      if (m < M) acc[m] = fmaf(load_float(a, ao + m * a.strides[1] + k * a.strides[2]), bv, acc[m]);
  }
}

// grid (ceil(N / 8), B), 256 threads; the lane sums are added with a butterfly over the warp.
extern "C" __global__ void __launch_bounds__(kRowsWarps * 32)
    dsa_matmul_rows_nt(Tensor out, Tensor a, Tensor b, float alpha) {
  const int64_t M = out.shape[1], N = out.shape[2], K = a.shape[2];
  const int64_t batch = blockIdx.y;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kRowsWarps + warp;
  if (n >= N) return;
  float acc[kRowsMax] = {};
  if (b.dtype == BF16) rows_nt<__nv_bfloat16>(a, b, batch, n, lane, K, M, acc);
  else if (b.dtype == F16) rows_nt<__half>(a, b, batch, n, lane, K, M, acc);
  else rows_nt<float>(a, b, batch, n, lane, K, M, acc);
#pragma unroll
  for (int m = 0; m < kRowsMax; m++) {
    if (m >= M) break;
    float v = acc[m];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) storef(out, batch * out.strides[0] + m * out.strides[1] + n * out.strides[2], __fmul_rn(alpha, v));
  }
}
