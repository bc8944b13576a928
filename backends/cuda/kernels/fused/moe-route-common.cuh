// Shared pieces of the noaux_tc router kernels (kernels/fused/moe-route.cu and the earlier versions in
// backends/cuda/dev/kernels/moe-route-v1-v2.cu): limits, the `beats` order, the warp arg-max step and the
// per-lane group score scan.
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

// Warp arg-max: every lane's (v, i) becomes the best of the warp's candidates under `beats` (fixed xor tree).
__device__ __forceinline__ void warp_best_of(float& v, int& i) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, i, o);
    better_of(v, i, ov, oi);
  }
}

// Score of one expert group part[0, per_group) by a sequential scan (one lane): the sum of its best `best`
// (1 or 2) choices under `beats` in f64, rounded to f32; -inf when it has fewer than `best` valid ones.
__device__ __forceinline__ float group_score_scan(const float* part, int per_group, int best) {
  int b1 = -1, b2 = -1;
  for (int i = 0; i < per_group; i++) {
    const float v = part[i];
    if (!(v > -INFINITY)) continue;
    if (b1 < 0 || beats(v, i, part[b1], b1)) {
      b2 = b1;
      b1 = i;
    } else if (b2 < 0 || beats(v, i, part[b2], b2)) {
      b2 = i;
    }
  }
  // v1 adds the chosen entries in ascending index order; a two-term f64 sum is order-free anyway
  double sum = b1 >= 0 ? static_cast<double>(part[b1]) : -INFINITY;
  if (best == 2) sum += b2 >= 0 ? static_cast<double>(part[b2]) : -INFINITY;
  return static_cast<float>(sum);
}
}  // namespace dsa_route
