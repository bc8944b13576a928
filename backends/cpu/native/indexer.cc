// Fused lightning-indexer scores and top-k (FusedKernels.indexerTopK). For query s and positions
// t ≤ positions[s] of its sequence:
//   logits [Hi, Tc] = q[s] [Hi, Di] · key[slot(t)]ᵀ · keyScale[slot(t)]   (dot-form GEMM, fp8 keys
//                                                                          widened in registers)
//   score[t] = Σ_h weights[s, h] · ReLU(logits[h, t])
// over chunks of 2048 positions, then indices[s, :] = the k best positions (ascending, -1 padded,
// ties to the lower position). On AVX-512 with f32 or f8_e4m3 keys the scores come from
// indexer-avx512.cc instead (all heads per pass over a key, keys split over the pool), and f8_e4m3 keys
// with a bf16-exact q (the fp8 indexer's) from indexer-avx512bf16.cc where the CPU has AVX512_BF16; the
// top-k is a threshold select (top-k.cc), linear in the number of positions.
#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "convert.h"
#include "cpu-features.h"
#include "gemm.h"
#include "indexer-avx512.h"
#include "indexer-avx512bf16.h"
#include "kernels.h"
#include "pool.h"
#include "segments.h"

namespace dsa {

void indexer_top_k(const Context& ctx, const Tensor& indices, const Tensor& q, const Tensor& weights,
                   const Tensor& keys, const Tensor* key_scales, const BatchHost& batch, int64_t k) {
  expect_rank("q", q, 3);
  const int64_t S = q.shape[0], Hi = q.shape[1], Di = q.shape[2];
  expect_shape("weights", weights, {S, Hi});
  expect_dtype("indices", indices, DType::i32);
  if (k < 1) fail("k = " + std::to_string(k) + " must be a positive integer");
  expect_shape("indices", indices, {S, k});
  expect_rank("keys", keys, 2);
  if (keys.shape[1] != Di) fail("q " + q.describe() + " and keys " + keys.describe() + " differ in width");
  expect_dense_rows("keys", keys);
  const int64_t slots = keys.shape[0];
  if (key_scales != nullptr) {
    expect_rank("scales", *key_scales, 1);
    if (key_scales->shape[0] < slots) fail("scales " + key_scales->describe() + " do not cover " + std::to_string(slots) + " slots");
  }
  if (batch.count != S) fail("batch has " + std::to_string(batch.count) + " queries, q has " + std::to_string(S));
  if (S == 0) return;

  // Slots of every position each query reads, validated up front.
  // Per-call buffers are kept per thread across calls (no fresh pages per decode step).
  // (thread_local names are bound to references: a lambda run on a pool worker must see these.)
  thread_local std::vector<std::vector<int64_t>> slot_lists_buffer;
  std::vector<std::vector<int64_t>>& slot_lists = slot_lists_buffer;
  if (slot_lists.size() < static_cast<size_t>(S)) slot_lists.resize(static_cast<size_t>(S));
  for (int64_t s = 0; s < S; s++) {
    const int64_t sequence = batch.sequence_ids[s], T = static_cast<int64_t>(batch.positions[s]) + 1;
    std::vector<int64_t>& list = slot_lists[s];
    list.resize(static_cast<size_t>(std::max<int64_t>(0, T)));
    // One block-table lookup per cache block: positions of a block are consecutive slots.
    const int64_t bs = std::max<int64_t>(1, batch.block_size);
    for (int64_t t0 = 0; t0 < T; t0 += bs) {
      const int64_t first = batch.slot(sequence, t0), end = std::min(T, t0 + bs);
      if (first + (end - t0) > slots)
        fail("slot " + std::to_string(first + (end - t0) - 1) + " is outside the key cache of " + std::to_string(slots));
      for (int64_t t = t0; t < end; t++) list[t] = first + (t - t0);
    }
  }
  // Per-slot scales as f32 (read once for the slots in use).
  const bool scales_direct = key_scales != nullptr && key_scales->dtype == DType::f32;
  const GemmKernels& kernels = gemm_for(ctx.isa);
  constexpr int64_t kChunk = 2048;
  static const bool vbmi = __builtin_cpu_supports("avx512vbmi");
  static const bool bf16 = has_avx512bf16();

  auto run_query = [&](const Context& inner, int64_t s) {
    const std::vector<int64_t>& list = slot_lists[s];
    const int64_t T = static_cast<int64_t>(list.size());
    thread_local std::vector<float> qrows_buffer, w_buffer, score_buffer, scale_values_buffer;
    thread_local std::vector<const uint8_t*> rows_buffer;
    thread_local std::vector<const float*> scale_rows_buffer;
    std::vector<float>& qrows = qrows_buffer;
    std::vector<float>& w = w_buffer;
    std::vector<float>& score = score_buffer;
    std::vector<float>& scale_values = scale_values_buffer;
    std::vector<const uint8_t*>& rows = rows_buffer;
    std::vector<const float*>& scale_rows = scale_rows_buffer;
    qrows.resize(static_cast<size_t>(Hi * Di));
    w.resize(static_cast<size_t>(Hi));
    for (int64_t h = 0; h < Hi; h++)
      load_row_f32(qrows.data() + h * Di, q.at(s * q.strides[0] + h * q.strides[1]), q.dtype, Di, q.strides[2]);
    load_row_f32(w.data(), weights.at(s * weights.strides[0]), weights.dtype, Hi, weights.strides[1]);
    score.resize(static_cast<size_t>(T));
    rows.resize(static_cast<size_t>(T));
    if (key_scales != nullptr) scale_rows.resize(static_cast<size_t>(T));
    if (key_scales != nullptr && !scales_direct) scale_values.resize(static_cast<size_t>(T));
    // Key rows (and scale rows) of positions [t0, t1), filled by the task that scores them.
    const uint8_t* key_base = keys.at(0);
    const int64_t key_row_bytes = keys.strides[0] * keys.bytes();
    auto fill = [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; t++) rows[t] = key_base + list[t] * key_row_bytes;
      if (key_scales == nullptr) return;
      if (scales_direct) {
        const float* base = key_scales->ptr<float>();
        const int64_t stride = key_scales->strides[0];
        for (int64_t t = t0; t < t1; t++) scale_rows[t] = base + list[t] * stride;
      } else {
        for (int64_t t = t0; t < t1; t++) {
          scale_values[t] = static_cast<float>(load_f64(key_scales->at(list[t] * key_scales->strides[0]), key_scales->dtype));
          scale_rows[t] = &scale_values[t];
        }
      }
    };
    const bool fast = inner.isa >= kAvx512 && Di <= 4096 &&
                      (keys.dtype == DType::f32 || (keys.dtype == DType::f8_e4m3 && vbmi));
    const bool fp8_bf16 = fast && keys.dtype == DType::f8_e4m3 && bf16;
    std::atomic<bool> done{false};
    if (fast && T > 0) {
      done = true;
      // Tasks of at least 1024 keys, split on multiples of 256 (the kernels work in blocks of 16).
      parallel_for_aligned(inner, T, 256, 1024, [&](int64_t t0, int64_t t1) {
        fill(t0, t1);
        const float* const* sr = key_scales != nullptr ? scale_rows.data() + t0 : nullptr;
        // The same answers on every task: the shapes and q decide.
        const bool ok =
            (fp8_bf16 && indexer_scores_fp8_avx512bf16(qrows.data(), w.data(), Hi, Di, rows.data() + t0, sr, t1 - t0,
                                                       score.data() + t0)) ||
            indexer_scores_avx512(qrows.data(), w.data(), Hi, Di, rows.data() + t0, keys.dtype, sr, t1 - t0,
                                  score.data() + t0);
        if (!ok) done = false;
      });
    }
    const int64_t chunks = done ? 0 : (T + kChunk - 1) / kChunk;
    parallel_for(inner, chunks, 1, [&](int64_t c0, int64_t c1) {
      float* logits = scratch<float>(Hi * kChunk);
      for (int64_t c = c0; c < c1; c++) {
        const int64_t t0 = c * kChunk, n = std::min(kChunk, T - t0);
        fill(t0, t0 + n);
        DotGemm g{};
        g.x = qrows.data();
        g.ldx = Di;
        g.M = Hi;
        g.K = Di;
        g.w = rows.data() + t0;
        g.wdtype = keys.dtype;
        g.wscale = key_scales != nullptr ? scale_rows.data() + t0 : nullptr;
        g.bk = Di;
        g.out = logits;
        g.ldo = n;
        g.alpha = 1.0f;
        kernels.dot(g, 0, n);
        float* sc = score.data() + t0;
        for (int64_t t = 0; t < n; t++) sc[t] = 0;
        for (int64_t h = 0; h < Hi; h++) {
          const float wh = w[h];
          const float* l = logits + h * n;
          for (int64_t t = 0; t < n; t++) sc[t] += wh * (l[t] > 0 ? l[t] : 0.0f);
        }
      }
    });
    thread_local std::vector<int32_t> candidates;
    int32_t* chosen = scratch<int32_t>(k);
    select_top_k(score.data(), T, k, chosen, candidates);
    int32_t* out = indices.ptr<int32_t>() + s * indices.strides[0];
    for (int64_t j = 0; j < k; j++) out[j * indices.strides[1]] = chosen[j];
  };

  for_each_query(ctx, S, batch.positions, run_query);
}

}  // namespace dsa
