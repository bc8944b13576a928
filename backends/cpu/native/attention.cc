// Fused absorbed-MLA attention over the paged latent cache (FusedKernels.mlaAttention):
//   logits [H, T] = q[s] [H, C+R] · cache[slot(t)]ᵀ       (dot-form GEMM over gathered cache rows)
//   p = softmax(scale · logits) per head                  (f32, exp in f32, sums in double)
//   out[s] [H, C] = p · cache[slot(t), :C]                (axpy-form GEMM over the same rows)
// over t in indices[s, :] (sparse, -1 ignored) or 0 ..= positions[s] (dense). A query with no
// position gets zeros. Queries run in parallel when there are enough of them; otherwise each query
// splits its positions (scores), heads (softmax) and value columns across the pool.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "convert.h"
#include "gemm.h"
#include "kernels.h"
#include "segments.h"

namespace dsa {

int64_t BatchHost::slot(int64_t sequence, int64_t position) const {
  int64_t entry = sequence * max_blocks + position / block_size;
  if (sequence < 0 || position < 0 || position / block_size >= max_blocks || entry >= table_length ||
      block_table[entry] < 0)
    fail("sequence " + std::to_string(sequence) + " has no cache block for position " + std::to_string(position));
  return static_cast<int64_t>(block_table[entry]) * block_size + position % block_size;
}

namespace {

struct Query {
  std::vector<const uint8_t*> rows;  // cache rows attended, in order
};

// The cache rows query s attends to (validated: every slot mapped and inside the cache).
void gather_rows_of(const BatchHost& batch, const Tensor& cache, const Tensor* indices, int64_t s,
                    std::vector<const uint8_t*>& rows) {
  rows.clear();
  const int64_t sequence = batch.sequence_ids[s];
  const int64_t slots = cache.shape[0];
  auto add = [&](int64_t t) {
    int64_t slot = batch.slot(sequence, t);
    if (slot >= slots) fail("slot " + std::to_string(slot) + " is outside the cache of " + std::to_string(slots));
    rows.push_back(cache.at(slot * cache.strides[0]));
  };
  if (indices != nullptr) {
    const int32_t* p = indices->ptr<int32_t>() + s * indices->strides[0];
    for (int64_t j = 0; j < indices->shape[1]; j++) {
      int32_t t = p[j * indices->strides[1]];
      if (t == -1) continue;
      if (t < 0) fail("index " + std::to_string(t) + " of query " + std::to_string(s) + " is negative");
      add(t);
    }
  } else {
    for (int64_t t = 0; t <= batch.positions[s]; t++) add(t);
  }
}

// softmax(scale · row) in place over n entries.
void softmax_row(float* row, int64_t n, float scale) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; i++) max = std::max(max, row[i] * scale);
  if (max == -std::numeric_limits<float>::infinity()) {
    for (int64_t i = 0; i < n; i++) row[i] = 0;
    return;
  }
  double sum = 0;
  for (int64_t i = 0; i < n; i++) {
    row[i] = std::exp(row[i] * scale - max);
    sum += row[i];
  }
  float inv = static_cast<float>(1 / sum);
  for (int64_t i = 0; i < n; i++) row[i] *= inv;
}

}  // namespace

void mla_attention(const Context& ctx, const Tensor& out, const Tensor& q, const Tensor& cache, const BatchHost& batch,
                   const Tensor* indices, double scale) {
  expect_rank("q", q, 3);
  expect_rank("latentCache", cache, 2);
  const int64_t S = q.shape[0], H = q.shape[1], W = q.shape[2];
  if (cache.shape[1] != W) fail("q " + q.describe() + " and latentCache " + cache.describe() + " differ in width");
  expect_rank("out", out, 3);
  const int64_t C = out.shape[2];
  expect_shape("out", out, {S, H, C});
  if (C > W) fail("out width " + std::to_string(C) + " exceeds the cache width " + std::to_string(W));
  expect_dense_rows("latentCache", cache);
  if (batch.count != S) fail("batch has " + std::to_string(batch.count) + " queries, q has " + std::to_string(S));
  if (indices != nullptr) {
    expect_dtype("indices", *indices, DType::i32);
    expect_rank("indices", *indices, 2);
    if (indices->shape[0] != S) fail("indices " + indices->describe() + " do not match " + std::to_string(S) + " queries");
  }
  if (S == 0 || H == 0) return;
  // Validate every query's rows up front so no task throws half-way.
  {
    std::vector<const uint8_t*> rows;
    for (int64_t s = 0; s < S; s++) gather_rows_of(batch, cache, indices, s, rows);
  }
  const GemmKernels& kernels = gemm_for(ctx.isa);
  const float fscale = static_cast<float>(scale);
  const bool q_direct = q.dtype == DType::f32 && q.strides[2] == 1;
  const bool out_direct = out.dtype == DType::f32 && out.strides[2] == 1;

  auto run_query = [&](const Context& inner, int64_t s) {
    std::vector<const uint8_t*> rows;
    gather_rows_of(batch, cache, indices, s, rows);
    const int64_t T = static_cast<int64_t>(rows.size());
    // q[s] as dense f32 rows, out[s] as dense f32 rows.
    std::vector<float> q_packed, out_packed;
    const float* qp;
    int64_t ldq;
    if (q_direct) {
      qp = q.ptr<float>() + s * q.strides[0];
      ldq = q.strides[1];
    } else {
      q_packed.resize(static_cast<size_t>(H * W));
      for (int64_t h = 0; h < H; h++)
        load_row_f32(q_packed.data() + h * W, q.at(s * q.strides[0] + h * q.strides[1]), q.dtype, W, q.strides[2]);
      qp = q_packed.data();
      ldq = W;
    }
    float* op;
    int64_t ldo;
    if (out_direct) {
      op = out.ptr<float>() + s * out.strides[0];
      ldo = out.strides[1];
    } else {
      out_packed.resize(static_cast<size_t>(H * C));
      op = out_packed.data();
      ldo = C;
    }
    if (T == 0) {
      for (int64_t h = 0; h < H; h++)
        for (int64_t c = 0; c < C; c++) op[h * ldo + c] = 0;
    } else {
      std::vector<float> logits(static_cast<size_t>(H * T));
      DotGemm scores{};
      scores.x = qp;
      scores.ldx = ldq;
      scores.M = H;
      scores.K = W;
      scores.w = rows.data();
      scores.wdtype = cache.dtype;
      scores.wscale = nullptr;
      scores.bk = W;
      scores.out = logits.data();
      scores.ldo = T;
      scores.alpha = 1.0f;
      parallel_for_aligned(inner, T, 16, std::max<int64_t>(16, 65536 / std::max<int64_t>(1, H * W)),
                           [&](int64_t n0, int64_t n1) { kernels.dot(scores, n0, n1); });
      parallel_for(inner, H, std::max<int64_t>(1, 16384 / T), [&](int64_t h0, int64_t h1) {
        for (int64_t h = h0; h < h1; h++) softmax_row(logits.data() + h * T, T, fscale);
      });
      AxpyGemm values{};
      values.a = logits.data();
      values.lda = T;
      values.M = H;
      values.K = T;
      values.b = rows.data();
      values.bdtype = cache.dtype;
      values.out = op;
      values.ldo = ldo;
      values.alpha = 1.0f;
      parallel_for_aligned(inner, C, 64, std::max<int64_t>(64, 65536 / std::max<int64_t>(1, H * T)),
                           [&](int64_t n0, int64_t n1) { kernels.axpy(values, n0, n1); });
    }
    if (!out_direct)
      for (int64_t h = 0; h < H; h++)
        store_row_f32(out.at(s * out.strides[0] + h * out.strides[1]), out.dtype, out.strides[2], op + h * C, C);
  };

  if (S >= 2 && ctx.threads > 1 && S >= ctx.threads) {
    Context serial = ctx;
    serial.threads = 1;
    parallel_for(ctx, S, 1, [&](int64_t b, int64_t e) {
      for (int64_t s = b; s < e; s++) run_query(serial, s);
    });
  } else {
    for (int64_t s = 0; s < S; s++) run_query(ctx, s);
  }
}

}  // namespace dsa
