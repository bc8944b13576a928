// DeepSeek act_quant and its inverse. One warp per (row, block of columns): amax over the block with
// a shuffle tree, scale = amax/448 (f32) or its ue8m0 power of two, q = e4m3(clamp(f32(x/scale))).
#include "../common/tensor.cuh"

using namespace dsa;

namespace {

// amax is a double as in the reference (its floor 1e-4 is not an f32); the ratio is rounded to f32.
__device__ __forceinline__ float ue8m0_scale(double amax) {
  const float ratio = __double2float_rn(__ddiv_rn(amax, 448.0));
  const uint32_t bits = __float_as_uint(ratio);
  const int exponent = static_cast<int>((bits >> 23) & 0xff) - 127 + ((bits & 0x7fffff) != 0 ? 1 : 0);
  return exp2f(static_cast<float>(exponent));
}

}  // namespace

// q [R, D] f8_e4m3, scale [R, ceil(D/blockSize)] f32, x [R, D]. grid: (blocks, R), block: 32 threads.
extern "C" __global__ void dsa_quantize_fp8(Tensor q, Tensor scale, Tensor x, int32_t blockSize, int32_t ue8m0) {
  const int64_t r = blockIdx.y, b = blockIdx.x, d = x.shape[1];
  const int64_t start = b * blockSize, end = min(d, start + blockSize);
  double amax = 1e-4;
  for (int64_t i = start + threadIdx.x; i < end; i += 32) amax = fmax(amax, fabs(load(x, r * x.strides[0] + i)));
  for (int o = 16; o > 0; o >>= 1) amax = fmax(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const float s = ue8m0 ? ue8m0_scale(amax) : __double2float_rn(__ddiv_rn(amax, 448.0));
  if (threadIdx.x == 0) store(scale, r * scale.strides[0] + b * scale.strides[1], s);
  for (int64_t i = start + threadIdx.x; i < end; i += 32) {
    const float v = __fdiv_rn(loadf(x, r * x.strides[0] + i), s);
    const float c = fminf(448.0f, fmaxf(-448.0f, v));
    store(q, r * q.strides[0] + i, c);
  }
}

// out = q * scale per block of blockSize columns.
extern "C" __global__ void dsa_dequantize_fp8(Tensor out, Tensor q, Tensor scale, int32_t blockSize) {
  const int64_t rows = q.shape[0], d = q.shape[1];
  DSA_FOR(e, rows * d) {
    const int64_t r = e / d, i = e % d;
    const double v = load(q, r * q.strides[0] + i) * load(scale, r * scale.strides[0] + (i / blockSize) * scale.strides[1]);
    store(out, r * out.strides[0] + i, v);
  }
}
