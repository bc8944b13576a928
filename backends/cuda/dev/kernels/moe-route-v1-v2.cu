// The noaux_tc router versions dsa_fused_moe_route3 (kernels/fused/moe-route.cu) beat: v1, one thread per
// token, and v2, one warp per token with scores in shared memory. Same arguments and results (v3's
// softmax weights may differ in the last bit). The host no longer launches them; they stay in the
// fatbin build until a GPU run re-verifies a fatbin without them (dev/fused-small.cu times all three).
#include "../../kernels/fused/moe-route-common.cuh"

using namespace dsa_fused;
using namespace dsa_route;

namespace {
// picked[0, count) into ascending expert order (insertion sort of ≤ kMaxTopK entries), then -1 padding up to k.
__device__ __forceinline__ void sort_and_pad(int* picked, int count, int k) {
  for (int a = 1; a < count; a++) {
    const int v = picked[a];
    int b = a - 1;
    while (b >= 0 && picked[b] > v) {
      picked[b + 1] = picked[b];
      b--;
    }
    picked[b + 1] = v;
  }
  for (int j = count; j < k; j++) picked[j] = -1;
}

// Token n's outputs from its picked experts: weights = their scores, divided by their f32 sum (formed in f64
// in pick order) when normalizing, times routed_scale.
__device__ __forceinline__ void write_token(int32_t* indices, float* weights, int n, const int* picked,
                                            const float* scores, int topk, float routed_scale, int normalize) {
  float w[kMaxTopK];
  for (int j = 0; j < topk; j++) w[j] = picked[j] >= 0 ? scores[picked[j]] : 0.0f;
  if (normalize) {
    double sum = 0;
    for (int j = 0; j < topk; j++) sum += w[j];
    const float total = static_cast<float>(sum);
    for (int j = 0; j < topk; j++) w[j] = w[j] / total;
  }
  if (routed_scale != 1.0f)
    for (int j = 0; j < topk; j++) w[j] = w[j] * routed_scale;
  for (int j = 0; j < topk; j++) {
    indices[static_cast<int64_t>(n) * topk + j] = picked[j];
    weights[static_cast<int64_t>(n) * topk + j] = w[j];
  }
}

// The k best of values[0, n) (ascending indices, -1 padded) into picked; `taken` is scratch of n bits.
__device__ void select_best(const float* values, int n, int k, int* picked, uint32_t* taken) {
  for (int i = 0; i < (n + 31) / 32; i++) taken[i] = 0;
  int count = 0;
  for (int j = 0; j < k; j++) {
    int best = -1;
    for (int i = 0; i < n; i++) {
      if (taken[i >> 5] & (1u << (i & 31))) continue;
      if (!(values[i] > -INFINITY)) continue;
      if (best < 0 || beats(values[i], i, values[best], best)) best = i;
    }
    if (best < 0) break;
    taken[best >> 5] |= 1u << (best & 31);
    picked[count++] = best;
  }
  sort_and_pad(picked, count, k);
}
}  // namespace

extern "C" __global__ void dsa_fused_moe_route(int32_t* indices, float* weights, const float* logits, const float* bias,
                                               int tokens, int experts, int groups, int topk_groups, int topk,
                                               float routed_scale, int normalize, int softmax) {
  const int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= tokens) return;
  float scores[kMaxExperts], choice[kMaxExperts], group_score[kMaxGroups];
  uint32_t taken[kMaxExperts / 32];
  int picked[kMaxTopK > kMaxGroups ? kMaxTopK : kMaxGroups];
  const float* row = logits + static_cast<int64_t>(n) * experts;
  if (softmax) {
    double max = -INFINITY;
    for (int i = 0; i < experts; i++) max = fmax(max, static_cast<double>(row[i]));
    double sum = 0;
    for (int i = 0; i < experts; i++) sum += exp(static_cast<double>(row[i]) - max);
    for (int i = 0; i < experts; i++) scores[i] = static_cast<float>(exp(static_cast<double>(row[i]) - max) / sum);
  } else {
    for (int i = 0; i < experts; i++) scores[i] = static_cast<float>(1.0 / (1.0 + exp(-static_cast<double>(row[i]))));
  }
  for (int i = 0; i < experts; i++) choice[i] = bias != nullptr ? scores[i] + bias[i] : scores[i];
  if (groups > 1) {
    const int per_group = experts / groups;
    const int best = bias != nullptr ? min(2, per_group) : 1;
    for (int g = 0; g < groups; g++) {
      int top[2];
      select_best(choice + g * per_group, per_group, best, top, taken);
      double sum = 0;
      for (int j = 0; j < best; j++) sum += top[j] >= 0 ? static_cast<double>(choice[g * per_group + top[j]]) : -INFINITY;
      group_score[g] = static_cast<float>(sum);
    }
    select_best(group_score, groups, topk_groups, picked, taken);
    for (int g = 0; g < groups; g++) {
      bool keep = false;
      for (int j = 0; j < topk_groups; j++) keep = keep || picked[j] == g;
      if (!keep)
        for (int i = 0; i < per_group; i++) choice[g * per_group + i] = -INFINITY;
    }
  }
  select_best(choice, experts, topk, picked, taken);
  write_token(indices, weights, n, picked, scores, topk, routed_scale, normalize);
}

// ---- v2: dsa_fused_moe_route2 (same arguments): one warp per token, kRouteWarps tokens per CTA ----
// grid ceil(N / kRouteWarps), block 32 · kRouteWarps. Same arithmetic as v1: scores/choices in shared
// memory; every selection is k rounds of a warp arg-max under `beats` (larger value, ties to the lower
// index, -inf/NaN never chosen; a chosen entry is set to -inf); group top-2 by a sequential scan per
// lane (one lane per group); the f64 sums (softmax denominator, group score, normalization) are
// formed sequentially in index order by one lane, exactly as v1 does.
namespace {
// Index of the best entry of values[0, n) under `beats` (-1 when none is > -inf), on every lane.
__device__ __forceinline__ int warp_best(const float* values, int n, int lane) {
  float v = -INFINITY;
  int i = -1;
  for (int j = lane; j < n; j += 32)
    if (values[j] > -INFINITY) better_of(v, i, values[j], j);
  warp_best_of(v, i);
  return i;
}

// The k best of values[0, n) (destroyed: chosen entries become -inf) into picked[0, k) in ascending
// index order, -1 padded. picked is per-warp shared memory.
__device__ __forceinline__ void warp_select(float* values, int n, int k, int* picked, int lane) {
  int count = 0;
  for (int j = 0; j < k; j++) {
    const int best = warp_best(values, n, lane);
    if (best < 0) break;
    __syncwarp();
    if (lane == 0) {
      values[best] = -INFINITY;
      picked[count] = best;
    }
    count++;
    __syncwarp();
  }
  if (lane == 0) sort_and_pad(picked, count, k);
  __syncwarp();
}
}  // namespace

extern "C" __global__ void __launch_bounds__(32 * kRouteWarps)
    dsa_fused_moe_route2(int32_t* indices, float* weights, const float* logits, const float* bias, int tokens,
                         int experts, int groups, int topk_groups, int topk, float routed_scale, int normalize,
                         int softmax) {
  __shared__ float s_scores[kRouteWarps][kMaxExperts], s_choice[kRouteWarps][kMaxExperts];
  __shared__ float s_group[kRouteWarps][kMaxGroups];
  __shared__ int s_picked[kRouteWarps][kMaxTopK > kMaxGroups ? kMaxTopK : kMaxGroups];
  __shared__ double s_exp[kRouteWarps][kMaxExperts];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int n = blockIdx.x * kRouteWarps + warp;
  if (n >= tokens) return;  // whole warps only: the rest use __syncwarp
  float* scores = s_scores[warp];
  float* choice = s_choice[warp];
  float* group_score = s_group[warp];
  int* picked = s_picked[warp];
  const float* row = logits + static_cast<int64_t>(n) * experts;
  if (softmax) {
    double max = -INFINITY;
    for (int i = lane; i < experts; i += 32) max = fmax(max, static_cast<double>(row[i]));
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) max = fmax(max, __shfl_xor_sync(0xffffffffu, max, o));
    double* ex = s_exp[warp];
    for (int i = lane; i < experts; i += 32) ex[i] = exp(static_cast<double>(row[i]) - max);
    __syncwarp();
    double sum = 0;
    if (lane == 0)
      for (int i = 0; i < experts; i++) sum += ex[i];
    sum = __shfl_sync(0xffffffffu, sum, 0);
    for (int i = lane; i < experts; i += 32) scores[i] = static_cast<float>(ex[i] / sum);
  } else {
    for (int i = lane; i < experts; i += 32)
      scores[i] = static_cast<float>(1.0 / (1.0 + exp(-static_cast<double>(row[i]))));
  }
  for (int i = lane; i < experts; i += 32) choice[i] = bias != nullptr ? scores[i] + bias[i] : scores[i];
  __syncwarp();
  if (groups > 1) {
    const int per_group = experts / groups;
    const int best = bias != nullptr ? min(2, per_group) : 1;
    for (int g = lane; g < groups; g += 32)
      group_score[g] = group_score_scan(choice + g * per_group, per_group, best);
    __syncwarp();
    warp_select(group_score, groups, topk_groups, picked, lane);
    for (int g = 0; g < groups; g++) {
      bool keep = false;
      for (int j = 0; j < topk_groups; j++) keep = keep || picked[j] == g;
      if (!keep)
        for (int i = lane; i < per_group; i += 32) choice[g * per_group + i] = -INFINITY;
    }
    __syncwarp();
  }
  warp_select(choice, experts, topk, picked, lane);
  if (lane == 0) write_token(indices, weights, n, picked, scores, topk, routed_scale, normalize);
}
