// linear: out[m, n] = sum_k x[m, k] * W[n, k], f32 accumulation, W bf16 / f16 / f32 or f8_e4m3 times
// its block scale (dequantized in registers). One warp per output column n and a tile of up to
// kTileM rows of x per block row; each lane walks 16-byte chunks of the weight row (vectorized
// loads when the row is 16-byte aligned and K a multiple of the chunk), then a fixed shuffle tree
// sums the 32 lane partials. Every out[m, n] is the same arithmetic whatever M is, so a row's
// result does not depend on the batch it is computed in.
#include "../common/tensor.cuh"

using namespace dsa;

namespace {

constexpr int kTileM = 8;
constexpr int kLinearWarps = 8;

template <int WD>
struct Chunk;

// A 16-byte chunk as kPairs pairs of type Pair, widened pairwise: w[2j], w[2j + 1] = widen(pair j).
template <class Pair, int kPairs, class Widen>
__device__ __forceinline__ void decode_pairs(const uint4& raw, float* w, Widen widen) {
  const Pair* p = reinterpret_cast<const Pair*>(&raw);
#pragma unroll
  for (int j = 0; j < kPairs; j++) {
    const float2 f = widen(p[j]);
    w[2 * j] = f.x;
    w[2 * j + 1] = f.y;
  }
}

template <>
struct Chunk<BF16> {
  static constexpr int kElements = 8;
  __device__ static void decode(const uint4& raw, float* w) {
    decode_pairs<__nv_bfloat162, 4>(raw, w, [](__nv_bfloat162 h) { return __bfloat1622float2(h); });
  }
};
template <>
struct Chunk<F16> {
  static constexpr int kElements = 8;
  __device__ static void decode(const uint4& raw, float* w) {
    decode_pairs<__half2, 4>(raw, w, [](__half2 h) { return __half22float2(h); });
  }
};
template <>
struct Chunk<F32> {
  static constexpr int kElements = 4;
  __device__ static void decode(const uint4& raw, float* w) {
    w[0] = __uint_as_float(raw.x);
    w[1] = __uint_as_float(raw.y);
    w[2] = __uint_as_float(raw.z);
    w[3] = __uint_as_float(raw.w);
  }
};
template <>
struct Chunk<F8E4M3> {
  static constexpr int kElements = 16;
  __device__ static void decode(const uint4& raw, float* w) {
    decode_pairs<__nv_fp8x2_storage_t, 8>(raw, w, [](__nv_fp8x2_storage_t p) {
      const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(p, __NV_E4M3);
      return __half22float2(*reinterpret_cast<const __half2*>(&h));
    });
  }
};

__device__ __forceinline__ float x_at(const Tensor& x, int64_t m, int64_t k) {
  if (x.dtype == F32) return reinterpret_cast<const float*>(x.ptr)[m * x.strides[0] + k];
  return loadf(x, m * x.strides[0] + k);
}

// grid: (ceil(N / kLinearWarps), ceil(M / kTileM)); block: 32 * kLinearWarps.
template <int WD>
__device__ void linear_tile(const Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& scale,
                            int blockN, int blockK, int vectorized) {
  const int lane = threadIdx.x & 31;
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kLinearWarps + (threadIdx.x >> 5);
  const int64_t M = x.shape[0], N = weight.shape[0], K = weight.shape[1];
  if (n >= N) return;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kTileM;
  const int tile = static_cast<int>(M - m0 < kTileM ? M - m0 : kTileM);
  const bool fp8 = WD == F8E4M3;
  const int64_t scaleRow = fp8 ? (n / blockN) * scale.strides[0] : 0;
  float acc[kTileM];
#pragma unroll
  for (int t = 0; t < kTileM; t++) acc[t] = 0.0f;
  const char* row = reinterpret_cast<const char*>(weight.ptr) + n * weight.strides[0] * (WD == F32 ? 4 : WD == F8E4M3 ? 1 : 2);
  constexpr int E = Chunk<WD>::kElements;
  if (vectorized) {
    const uint4* chunks = reinterpret_cast<const uint4*>(row);
    for (int64_t c = lane; c < K / E; c += 32) {
      const uint4 raw = __ldg(chunks + c);
      float w[E];
      Chunk<WD>::decode(raw, w);
      const int64_t k0 = c * E;
      if (fp8) {
        // a chunk never straddles a scale block when blockK is a multiple of E (checked on the host)
        const float s = reinterpret_cast<const float*>(scale.ptr)[scaleRow + (k0 / blockK) * scale.strides[1]];
#pragma unroll
        for (int j = 0; j < E; j++) w[j] *= s;
      }
#pragma unroll
      for (int t = 0; t < kTileM; t++) {
        if (t >= tile) break;
        float a = acc[t];
#pragma unroll
        for (int j = 0; j < E; j++) a = fmaf(x_at(x, m0 + t, k0 + j), w[j], a);
        acc[t] = a;
      }
    }
  } else {
    for (int64_t k = lane; k < K; k += 32) {
      float w = loadf(weight, n * weight.strides[0] + k);
      if (fp8) w *= reinterpret_cast<const float*>(scale.ptr)[scaleRow + (k / blockK) * scale.strides[1]];
#pragma unroll
      for (int t = 0; t < kTileM; t++) {
        if (t >= tile) break;
        acc[t] = fmaf(x_at(x, m0 + t, k), w, acc[t]);
      }
    }
  }
#pragma unroll
  for (int t = 0; t < kTileM; t++) {
    float a = acc[t];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) a += __shfl_xor_sync(0xffffffffu, a, o);
    if (lane == 0 && t < tile) storef(out, (m0 + t) * out.strides[0] + n * out.strides[1], a);
  }
}

}  // namespace

// dsa_linear_<weight dtype>(out, x, weight, scale, blockN, blockK, vectorized): one kernel per weight dtype.
#define DSA_LINEAR(NAME, WD)                                                                                       \
  extern "C" __global__ void __launch_bounds__(32 * kLinearWarps) dsa_linear_##NAME(                               \
      Tensor out, Tensor x, Tensor weight, Tensor scale, int32_t blockN, int32_t blockK, int32_t vectorized) {     \
    linear_tile<WD>(out, x, weight, scale, blockN, blockK, vectorized);                                            \
  }
DSA_LINEAR(bf16, BF16)
DSA_LINEAR(f16, F16)
DSA_LINEAR(f32, F32)
DSA_LINEAR(f8_e4m3, F8E4M3)
