// Shared pieces of the noaux_tc router kernels (kernels/fused/moe-route.cu and the earlier versions in
// backends/cuda/dev/kernels/moe-route-v1-v2.cu): limits, the `beats` order and the warp arg-max step.
#pragma once
#include "fused-common.cuh"

namespace dsa_route {
constexpr int kMaxExperts = 512, kMaxGroups = 64, kMaxTopK = 32;
// Tokens per CTA of the warp-per-token kernels (one warp each).
constexpr int kRouteWarps = 4;

// Whether entry a beats entry b: larger value, ties to the lower index; NaN and -inf never win.
__device__ __forceinline__ bool beats(float va, int a, float vb, int b) {
  if (!(va > -INFINITY)) return false;
  if (!(vb > -INFINITY)) return true;
  return va > vb || (va == vb && a < b);
}

// The better of two (value, index) candidates under `beats`; index -1 = none.
__device__ __forceinline__ void better_of(float& v, int& i, float ov, int oi) {
  if (oi < 0) return;
  if (i < 0 || beats(ov, oi, v, i)) {
    v = ov;
    i = oi;
  }
}
}  // namespace dsa_route
