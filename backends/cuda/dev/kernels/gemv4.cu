// The tensor-core decode GEMV (v4) that the gemv-core.cuh kernels of kernels/fused/gemv.cu beat at M ≤ 16
// (it was opt-in). The host no longer launches it; it stays in the fatbin build until a GPU run
// re-verifies a fatbin without it (dev/gemv.cu times it next to v1-v3).
#include "../../kernels/fused/fused-common.cuh"

using namespace dsa_fused;

// ---- v4 (gemv-mma.cuh): tensor cores, one kernel for every M ≤ 16 ----
// dsa_fused_gemv4_<bf16|f8>(same arguments as v2, slices = gemv4_slices(N, K)): CTA of 8 warps = 8 / slices
// groups of 8 columns, grid ceil(ceil(N / 8) / (8 / slices)). Requires K % 128 == 0, 16-byte aligned
// weight and x rows; fp8: block_k % 128 == 0 and block_n % 8 == 0.
#include "gemv-mma.cuh"

#define DSA_GEMV4(NAME, WT)                                                                                        \
  extern "C" __global__ void __launch_bounds__(256) dsa_fused_gemv4_##NAME(                                      \
      void* out, int out_dtype, const void* x, int x_dtype, const void* weight, const float* scales, int block_n, \
      int block_k, int scale_cols, int m, int n, int k, int slices) {                                             \
    if (x_dtype == kF32)                                                                                           \
      gemv4_body<WT, kF32>(out, out_dtype, x, weight, scales, block_n, block_k, scale_cols, m, n, k, slices);      \
    else                                                                                                           \
      gemv4_body<WT, kBF16>(out, out_dtype, x, weight, scales, block_n, block_k, scale_cols, m, n, k, slices);     \
  }
DSA_GEMV4(bf16, kBF16)
DSA_GEMV4(f8, kF8E4M3)
