// DeepSeek noaux_tc router (FusedKernels.moeRoute), one warp per token
// (dsa_fused_moe_route3), with the composite's
// arithmetic (packages/moe/src/moe-route.ts): scores = sigmoid(logits) (or softmax) in f64 rounded
// to f32; choice = scores + bias (f32); group score = sum of the group's best two choices (best one
// without bias) in f64, rounded; the best `topk_groups` groups survive (ties to the lower group); the
// `topk` best choices among them (ties to the lower expert, -inf/NaN never chosen, -1 padding) in
// ascending expert order; weights = their scores, divided by their f32 sum when normalizing, times
// routed_scale. logits [N, E] f32; bias [E] f32 or null; indices i32 [N, A]; weights f32 [N, A].
// The thread-per-token v1 and the shared-memory v2 it beat are in backends/cuda/dev/kernels/.
#include "moe-route-common.cuh"

using namespace dsa_fused;
using namespace dsa_route;

// ---- v3: dsa_fused_moe_route3 (same arguments and grid as v2): latency-oriented warp per token ----
// The token's logits/bias are held in registers (lane l owns experts l + 32·j, j < kRouteSlots), all loads
// issued at once and the f64 exps formed in parallel. Group top-2: when a group is one register
// (experts / groups == 32, ≤ 16 groups: DeepSeek-V3) a xor-shuffle top-2 merge under `beats` reduces all
// groups at once (else v2's per-lane scan). Kept groups: rank under `beats` < topk_groups (the same set as repeated arg-max). Expert top-k:
// repeated warp arg-max on the registers, each lane caching its own best. Results and ties are those of
// v2; the softmax denominator is summed per lane in j order, then by a fixed xor tree (v2: sequentially),
// so softmax weights may differ from v2 in the last bit. The normalization sum is the same as v2's.
namespace {
constexpr int kRouteSlots = kMaxExperts / 32;

// Merges candidate pair (c1, c2) into the best two (b1, b2) under `beats`; indices -1 = none.
__device__ __forceinline__ void top2_merge(float& v1, int& i1, float& v2, int& i2, float w, int wi) {
  if (wi < 0 || !(w > -INFINITY)) return;
  if (i1 < 0 || beats(w, wi, v1, i1)) {
    v2 = v1;
    i2 = i1;
    v1 = w;
    i1 = wi;
  } else if (i2 < 0 || beats(w, wi, v2, i2)) {
    v2 = w;
    i2 = wi;
  }
}
}  // namespace

extern "C" __global__ void __launch_bounds__(32 * kRouteWarps)
    dsa_fused_moe_route3(int32_t* indices, float* weights, const float* logits, const float* bias, int tokens,
                         int experts, int groups, int topk_groups, int topk, float routed_scale, int normalize,
                         int softmax) {
  __shared__ float s_scores[kRouteWarps][kMaxExperts], s_choice[kRouteWarps][kMaxExperts];
  __shared__ float s_group[kRouteWarps][kMaxGroups];
  __shared__ int s_picked[kRouteWarps][kMaxTopK > kMaxGroups ? kMaxTopK : kMaxGroups];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int n = blockIdx.x * kRouteWarps + warp;
  if (n >= tokens) return;  // whole warps only: the rest use __syncwarp
  float* scores = s_scores[warp];
  float* choice = s_choice[warp];
  int* picked = s_picked[warp];
  const float* row = logits + static_cast<int64_t>(n) * experts;
  float x[kRouteSlots], c[kRouteSlots];
#pragma unroll
  for (int j = 0; j < kRouteSlots; j++) {
    const int i = lane + 32 * j;
    x[j] = i < experts ? row[i] : 0.0f;
    c[j] = bias != nullptr && i < experts ? bias[i] : 0.0f;
  }
  if (softmax) {
    double max = -INFINITY;
#pragma unroll
    for (int j = 0; j < kRouteSlots; j++)
      if (lane + 32 * j < experts) max = fmax(max, static_cast<double>(x[j]));
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) max = fmax(max, __shfl_xor_sync(0xffffffffu, max, o));
    double ex[kRouteSlots], sum = 0;
#pragma unroll
    for (int j = 0; j < kRouteSlots; j++) {
      ex[j] = lane + 32 * j < experts ? exp(static_cast<double>(x[j]) - max) : 0.0;
      sum += ex[j];
    }
    sum = warp_sum_f64(sum);
#pragma unroll
    for (int j = 0; j < kRouteSlots; j++) x[j] = static_cast<float>(ex[j] / sum);
  } else {
#pragma unroll
    for (int j = 0; j < kRouteSlots; j++) x[j] = static_cast<float>(1.0 / (1.0 + exp(-static_cast<double>(x[j]))));
  }
  // x = scores, c = choices (-inf outside [0, experts))
#pragma unroll
  for (int j = 0; j < kRouteSlots; j++) {
    const int i = lane + 32 * j;
    c[j] = i < experts ? (bias != nullptr ? x[j] + c[j] : x[j]) : -INFINITY;
    if (i < experts) {
      scores[i] = x[j];
      choice[i] = c[j];
    }
  }
  __syncwarp();
  if (groups > 1) {
    const int per_group = experts / groups;
    const int best = bias != nullptr ? min(2, per_group) : 1;
    float* group_score = s_group[warp];
    if (per_group == 32 && groups <= kRouteSlots) {  // register j = group j (DeepSeek-V3: 256 / 8)
      float v1[kRouteSlots], v2[kRouteSlots];
      int i1[kRouteSlots], i2[kRouteSlots];
#pragma unroll
      for (int g = 0; g < kRouteSlots; g++) {
        v1[g] = v2[g] = -INFINITY;
        i1[g] = i2[g] = -1;
        if (g < groups) top2_merge(v1[g], i1[g], v2[g], i2[g], c[g], lane);  // index within the group
      }
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) {
#pragma unroll
        for (int g = 0; g < kRouteSlots; g++) {
          if (g >= groups) continue;
          const float a = __shfl_xor_sync(0xffffffffu, v1[g], o), b = __shfl_xor_sync(0xffffffffu, v2[g], o);
          const int ai = __shfl_xor_sync(0xffffffffu, i1[g], o), bi = __shfl_xor_sync(0xffffffffu, i2[g], o);
          top2_merge(v1[g], i1[g], v2[g], i2[g], a, ai);
          top2_merge(v1[g], i1[g], v2[g], i2[g], b, bi);
        }
      }
      if (lane == 0) {
#pragma unroll
        for (int g = 0; g < kRouteSlots; g++) {
          if (g >= groups) continue;
          double sum = i1[g] >= 0 ? static_cast<double>(v1[g]) : -INFINITY;
          if (best == 2) sum += i2[g] >= 0 ? static_cast<double>(v2[g]) : -INFINITY;
          group_score[g] = static_cast<float>(sum);
        }
      }
    } else {
      for (int g = lane; g < groups; g += 32)
        group_score[g] = group_score_scan(choice + g * per_group, per_group, best);
    }
    __syncwarp();
    // group g is kept iff it is valid and fewer than topk_groups groups beat it (lane g decides)
    uint64_t kept = 0;
    for (int g0 = 0; g0 < groups; g0 += 32) {
      const int g = g0 + lane;
      bool keep = false;
      if (g < groups) {
        const float gs = group_score[g];
        int rank = 0;
        for (int h = 0; h < groups; h++) rank += beats(group_score[h], h, gs, g) ? 1 : 0;
        keep = gs > -INFINITY && rank < topk_groups;
      }
      kept |= static_cast<uint64_t>(__ballot_sync(0xffffffffu, keep)) << g0;
    }
#pragma unroll
    for (int j = 0; j < kRouteSlots; j++) {
      const int i = lane + 32 * j;
      if (i >= experts) continue;
      const int g = i / per_group;
      if (g >= groups) continue;  // beyond groups · per_group: never masked (as v2)
      if (!((kept >> g) & 1u)) c[j] = -INFINITY;
    }
  }
  // expert top-k: repeated warp arg-max, each lane caching the best of its registers
  float lv = -INFINITY;
  int li = -1;
#pragma unroll
  for (int j = 0; j < kRouteSlots; j++)
    if (c[j] > -INFINITY) better_of(lv, li, c[j], lane + 32 * j);
  int count = 0;
  for (int t = 0; t < topk; t++) {
    float v = lv;
    int i = li;
    warp_best_of(v, i);
    if (i < 0) break;
    if (lane == 0) picked[count] = i;
    count++;
    if ((i & 31) == lane) {  // the owner drops it and recomputes its best
      lv = -INFINITY;
      li = -1;
#pragma unroll
      for (int j = 0; j < kRouteSlots; j++) {
        if (lane + 32 * j == i) c[j] = -INFINITY;
        if (c[j] > -INFINITY) better_of(lv, li, c[j], lane + 32 * j);
      }
    }
  }
  __syncwarp();
  // ascending index order (ranks), -1 padding, weights
  int mine = -1, pos = 0;
  if (lane < count) {
    mine = picked[lane];
    for (int a = 0; a < count; a++) pos += picked[a] < mine ? 1 : 0;
  }
  __syncwarp();
  if (lane < count) picked[pos] = mine;
  __syncwarp();
  if (lane < topk) {
    const int p = lane < count ? picked[lane] : -1;
    float w = p >= 0 ? scores[p] : 0.0f;
    if (normalize) {
      double sum = 0;
      for (int j = 0; j < topk; j++) sum += j < count ? scores[picked[j]] : 0.0f;
      w = w / static_cast<float>(sum);
    }
    if (routed_scale != 1.0f) w = w * routed_scale;
    indices[static_cast<int64_t>(n) * topk + lane] = p;
    weights[static_cast<int64_t>(n) * topk + lane] = w;
  }
}
