// Fused SwiGLU (FusedKernels.swiglu): out = silu(gate) · up, element-wise over dense [N, I] tensors
// (f32, bf16 or f16 each). silu(g) = g / (1 + e^-g) in f32. `out` may alias `gate` (each element is
// read before it is written by the same thread).
#include "fused-common.cuh"

using namespace dsa_fused;

extern "C" __global__ void dsa_fused_swiglu(void* out, int out_dtype, const void* gate, int gate_dtype, const void* up,
                                            int up_dtype, int64_t n) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float g = load_f32(gate, gate_dtype, i);
    const float u = load_f32(up, up_dtype, i);
    store_f32(out, out_dtype, i, g / (1.0f + expf(-g)) * u);
  }
}
