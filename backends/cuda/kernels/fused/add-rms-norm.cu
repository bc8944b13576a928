// Fused residual add + RMSNorm (FusedKernels.addRmsNorm), one CTA per row:
//   residual[r] = residual[r] + x[r]            (f32 add, rounded to residual's dtype)
//   out[r]      = residual[r] · inv · weight     (inv = 1/sqrt(mean(residual²) + eps), in f64, rounded once)
// Rows are dense; the row strides (elements) are arguments so row-sliced views work.
#include "fused-common.cuh"

using namespace dsa_fused;

extern "C" __global__ void dsa_fused_add_rms_norm(void* out, int out_dtype, int64_t out_row_stride, void* residual,
                                                  int residual_dtype, int64_t residual_row_stride, const void* x,
                                                  int x_dtype, int64_t x_row_stride, const void* weight,
                                                  int weight_dtype, int d, float eps) {
  const int64_t row = blockIdx.x;
  char* res_row = static_cast<char*>(residual);
  const int res_bytes = residual_dtype == kF32 ? 4 : 2;
  void* r = res_row + row * residual_row_stride * res_bytes;
  const void* xr = static_cast<const char*>(x) + row * x_row_stride * (x_dtype == kF32 ? 4 : 2);
  void* o = static_cast<char*>(out) + row * out_row_stride * (out_dtype == kF32 ? 4 : 2);
  double sum = 0;
  for (int i = threadIdx.x; i < d; i += blockDim.x) {
    float v = load_f32(r, residual_dtype, i) + load_f32(xr, x_dtype, i);
    store_f32(r, residual_dtype, i, v);
    const double rounded = load_f32(r, residual_dtype, i);  // the stored value, as the composite reads it
    sum += rounded * rounded;
  }
  __shared__ double partial[32];
  __shared__ double inv_shared;
  sum = warp_sum_f64(sum);
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = sum;
  __syncthreads();
  if (threadIdx.x < 32) {
    double s = threadIdx.x < (blockDim.x >> 5) ? partial[threadIdx.x] : 0.0;
    s = warp_sum_f64(s);
    if (threadIdx.x == 0) inv_shared = 1.0 / sqrt(s / d + static_cast<double>(eps));
  }
  __syncthreads();
  const double inv = inv_shared;
  for (int i = threadIdx.x; i < d; i += blockDim.x) {
    const double v = static_cast<double>(load_f32(r, residual_dtype, i)) * inv *
                     static_cast<double>(load_f32(weight, weight_dtype, i));
    store_f32(o, out_dtype, i, static_cast<float>(v));
  }
}
