// Fused DeepSeek noaux_tc router (FusedKernels.moeRoute), per token, with the composite's exact
// arithmetic (packages/moe/src/moe-route.ts): scores = sigmoid(logits) or softmax, rounded to f32;
// choice = scores + bias (f32); group score = sum of the group's best one or two choices in index
// order (double, rounded); keep the best `topkGroups` groups; the `topk` best choices in kept groups
// (ascending expert ids, ties to the lower id); weights = scores of those, divided by their f32 sum
// when normalizing, times f32(routedScale).
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "convert.h"
#include "kernels.h"
#include "segments.h"

namespace dsa {

void moe_route(const Context& ctx, const Tensor& indices, const Tensor& weights, const Tensor& logits,
               const Tensor* bias, const MoeRouteOptions& options) {
  expect_rank("logits", logits, 2);
  const int64_t n = logits.shape[0], e = logits.shape[1];
  const int64_t g = options.groups, a = options.topk;
  if (g < 1 || e % g != 0) fail(std::to_string(e) + " experts do not split into " + std::to_string(g) + " groups");
  if (options.topk_groups < 1 || options.topk_groups > g) fail("topkGroups must be in [1, groups]");
  if (a < 1) fail("topk must be positive");
  expect_dtype("indices", indices, DType::i32);
  expect_shape("indices", indices, {n, a});
  expect_shape("weights", weights, {n, a});
  if (bias != nullptr) expect_shape("bias", *bias, {e});
  std::vector<float> bias_values;
  if (bias != nullptr) {
    bias_values.resize(static_cast<size_t>(e));
    load_row_f32(bias_values.data(), bias->data, bias->dtype, e, bias->strides[0]);
  }
  const int64_t per_group = e / g;
  const float routed_scale = static_cast<float>(options.routed_scale);
  // About 1 µs per token (e double exps and three selections): a decode batch of 8 splits over the threads.
  parallel_for(ctx, n, std::max<int64_t>(1, 128 / e), [&](int64_t b, int64_t end) {
    thread_local std::vector<int32_t> candidates;
    double* row = scratch<double>(e);
    float* scores = scratch<float, 0>(e);
    float* choice = scratch<float, 1>(e);
    float* group_score = scratch<float, 2>(g);
    int32_t* picked = scratch<int32_t, 0>(std::max(a, g));
    int32_t* kept = scratch<int32_t, 1>(g);
    for (int64_t t = b; t < end; t++) {
      load_row_f64(row, logits.at(t * logits.strides[0]), logits.dtype, e, logits.strides[1]);
      if (options.softmax) {
        double max = -std::numeric_limits<double>::infinity();
        for (int64_t i = 0; i < e; i++) max = row[i] > max ? row[i] : max;
        double sum = 0;
        for (int64_t i = 0; i < e; i++) {
          row[i] = std::exp(row[i] - max);
          sum += row[i];
        }
        for (int64_t i = 0; i < e; i++) scores[i] = static_cast<float>(row[i] / sum);
      } else {
        for (int64_t i = 0; i < e; i++) scores[i] = static_cast<float>(1 / (1 + std::exp(-row[i])));
      }
      for (int64_t i = 0; i < e; i++) choice[i] = bias != nullptr ? scores[i] + bias_values[i] : scores[i];
      if (g > 1) {
        const int64_t best = bias != nullptr ? std::min<int64_t>(2, per_group) : 1;
        for (int64_t group = 0; group < g; group++) {
          const float* values = choice + group * per_group;
          select_top_k(values, per_group, best, picked, candidates);
          double sum = 0;
          for (int64_t j = 0; j < best; j++)
            sum += picked[j] >= 0 ? values[picked[j]] : -std::numeric_limits<double>::infinity();
          group_score[group] = static_cast<float>(sum);
        }
        select_top_k(group_score, g, options.topk_groups, kept, candidates);
        for (int64_t group = 0; group < g; group++) {
          bool keep = false;
          for (int64_t j = 0; j < options.topk_groups; j++) keep = keep || kept[j] == group;
          if (!keep)
            for (int64_t i = 0; i < per_group; i++) choice[group * per_group + i] = -std::numeric_limits<float>::infinity();
        }
      }
      select_top_k(choice, e, a, picked, candidates);
      float* w = scratch<float, 3>(a);
      for (int64_t j = 0; j < a; j++) w[j] = picked[j] >= 0 ? scores[picked[j]] : 0.0f;
      if (options.normalize) {
        double sum = 0;
        for (int64_t j = 0; j < a; j++) sum += w[j];
        const float total = static_cast<float>(sum);
        for (int64_t j = 0; j < a; j++) w[j] = w[j] / total;
      }
      if (options.routed_scale != 1)
        for (int64_t j = 0; j < a; j++) w[j] = w[j] * routed_scale;
      for (int64_t j = 0; j < a; j++) {
        indices.ptr<int32_t>()[t * indices.strides[0] + j * indices.strides[1]] = picked[j];
        store_f64(weights.at(t * weights.strides[0] + j * weights.strides[1]), weights.dtype, w[j]);
      }
    }
  });
}

}  // namespace dsa
