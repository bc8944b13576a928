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
#include "top-k-row.h"

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

  // The first slot of every cache block each query reads (positions of a block are consecutive slots),
  // validated up front. Per-call buffers are kept per thread across calls (no fresh pages per decode
  // step). (thread_local names are bound to references: a lambda run on a pool worker must see these.)
  const int64_t bs = std::max<int64_t>(1, batch.block_size);
  thread_local std::vector<std::vector<int64_t>> block_slots_buffer;
  std::vector<std::vector<int64_t>>& block_slots = block_slots_buffer;
  if (block_slots.size() < static_cast<size_t>(S)) block_slots.resize(static_cast<size_t>(S));
  for (int64_t s = 0; s < S; s++) {
    const int64_t sequence = batch.sequence_ids[s], T = std::max<int64_t>(0, static_cast<int64_t>(batch.positions[s]) + 1);
    std::vector<int64_t>& firsts = block_slots[s];
    firsts.resize(static_cast<size_t>((T + bs - 1) / bs));
    for (int64_t t0 = 0; t0 < T; t0 += bs) {
      const int64_t first = batch.slot(sequence, t0), end = std::min(T, t0 + bs);
      if (first + (end - t0) > slots)
        fail("slot " + std::to_string(first + (end - t0) - 1) + " is outside the key cache of " + std::to_string(slots));
      firsts[t0 / bs] = first;
    }
  }
  // Per-slot scales as f32 (read once for the slots in use).
  const bool scales_direct = key_scales != nullptr && key_scales->dtype == DType::f32;
  const GemmKernels& kernels = gemm_for(ctx.isa);
  constexpr int64_t kChunk = 2048;
  static const bool vbmi = __builtin_cpu_supports("avx512vbmi");
  static const bool bf16 = has_avx512bf16();

  auto run_query = [&](const Context& inner, int64_t s) {
    const int64_t* firsts = block_slots[s].data();
    const int64_t T = std::max<int64_t>(0, static_cast<int64_t>(batch.positions[s]) + 1);
    thread_local std::vector<float> qrows_buffer, w_buffer, score_buffer;
    std::vector<float>& qrows = qrows_buffer;
    std::vector<float>& w = w_buffer;
    std::vector<float>& score = score_buffer;
    qrows.resize(static_cast<size_t>(Hi * Di));
    w.resize(static_cast<size_t>(Hi));
    for (int64_t h = 0; h < Hi; h++)
      load_row_f32(qrows.data() + h * Di, q.at(s * q.strides[0] + h * q.strides[1]), q.dtype, Di, q.strides[2]);
    load_row_f32(w.data(), weights.at(s * weights.strides[0]), weights.dtype, Hi, weights.strides[1]);
    score.resize(static_cast<size_t>(T));
    // Key rows (and scale rows) of positions [t0, t1) at rows[0, t1 - t0) (and scale_rows), filled by the
    // task that scores them, kChunk at a time (small arrays that stay in cache).
    const uint8_t* key_base = keys.at(0);
    const int64_t key_row_bytes = keys.strides[0] * keys.bytes();
    auto fill = [&](int64_t t0, int64_t t1, const uint8_t** rows, const float** scale_rows, float* scale_values) {
      for (int64_t b = t0 / bs; b * bs < t1; b++) {
        const int64_t begin = std::max(t0, b * bs), end = std::min(t1, (b + 1) * bs);
        const int64_t slot = firsts[b] + (begin - b * bs);  // of position begin; consecutive after it
        const uint8_t* row = key_base + slot * key_row_bytes;
        for (int64_t i = begin - t0; i < end - t0; i++, row += key_row_bytes) rows[i] = row;
        if (key_scales == nullptr) continue;
        const int64_t stride = key_scales->strides[0];
        if (scales_direct) {
          const float* scale = key_scales->ptr<float>() + slot * stride;
          for (int64_t i = begin - t0; i < end - t0; i++, scale += stride) scale_rows[i] = scale;
        } else {
          for (int64_t i = begin - t0, j = slot; i < end - t0; i++, j++) {
            scale_values[i] = static_cast<float>(load_f64(key_scales->at(j * stride), key_scales->dtype));
            scale_rows[i] = &scale_values[i];
          }
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
        const uint8_t** rows = scratch<const uint8_t*, 0>(kChunk);
        const float** scale_rows = scratch<const float*, 0>(kChunk);
        float* scale_values = scratch<float, 1>(kChunk);
        for (int64_t c0 = t0; c0 < t1; c0 += kChunk) {
          const int64_t c1 = std::min(t1, c0 + kChunk);
          fill(c0, c1, rows, scale_rows, scale_values);
          const float* const* sr = key_scales != nullptr ? scale_rows : nullptr;
          // The same answers on every task: the shapes and q decide.
          const bool ok =
              (fp8_bf16 && indexer_scores_fp8_avx512bf16(qrows.data(), w.data(), Hi, Di, rows, sr, c1 - c0, score.data() + c0)) ||
              indexer_scores_avx512(qrows.data(), w.data(), Hi, Di, rows, keys.dtype, sr, c1 - c0, score.data() + c0);
          if (!ok) {
            done = false;
            return;
          }
        }
      });
    }
    const int64_t chunks = done ? 0 : (T + kChunk - 1) / kChunk;
    parallel_for(inner, chunks, 1, [&](int64_t c0, int64_t c1) {
      float* logits = scratch<float>(Hi * kChunk);
      const uint8_t** rows = scratch<const uint8_t*, 0>(kChunk);
      const float** scale_rows = scratch<const float*, 0>(kChunk);
      float* scale_values = scratch<float, 1>(kChunk);
      for (int64_t c = c0; c < c1; c++) {
        const int64_t t0 = c * kChunk, n = std::min(kChunk, T - t0);
        fill(t0, t0 + n, rows, scale_rows, scale_values);
        DotGemm g{};
        g.x = qrows.data();
        g.ldx = Di;
        g.M = Hi;
        g.K = Di;
        g.w = rows;
        g.wdtype = keys.dtype;
        g.wscale = key_scales != nullptr ? scale_rows : nullptr;
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
    select_top_k_row(ctx.isa, score.data(), T, k, chosen, candidates);
    int32_t* out = indices.ptr<int32_t>() + s * indices.strides[0];
    for (int64_t j = 0; j < k; j++) out[j * indices.strides[1]] = chosen[j];
  };

  for_each_query(ctx, S, batch.positions, run_query);
}

}  // namespace dsa
