// Fused absorbed-MLA attention over the paged latent cache (FusedKernels.mlaAttention):
//   logits [H, T] = q[s] [H, C+R] · cache[slot(t)]ᵀ       (dot-form GEMM over gathered cache rows)
//   p = softmax(scale · logits) per head                  (f32: softmax-row.h)
//   out[s] [H, C] = p · cache[slot(t), :C]                (axpy-form GEMM over the same rows)
// over t in indices[s, :] (sparse, -1 ignored) or 0 ..= positions[s] (dense). A query with no
// position gets zeros. Queries run in parallel when there are enough of them; otherwise each query
// splits its positions (scores), heads (softmax) and value columns across the pool.
// An fp8 cache (DeepSeek's 656-byte rows) is read as stored, dequantized inside the GEMMs: the scores are
// q[:, :C] · e4m3ᵀ with each row's block scales (the dot kernels' block-scaled f8 path) plus q[:, C:] · bf16
// ropeᵀ; the values, per 128-column block b, (p · scale_b of each row) · e4m3 (exact: scales are powers of two).
#include <algorithm>
#include <string>
#include <vector>

#include "attention-avx512bf16.h"
#include "convert.h"
#include "gemm.h"
#include "kernels.h"
#include "pool.h"
#include "prefetch-rows.h"
#include "segments.h"
#include "softmax-row.h"

namespace dsa {

int64_t BatchHost::slot_by_division(int64_t sequence, int64_t position) const {
  int64_t entry = sequence * max_blocks + position / block_size;
  if (sequence < 0 || position < 0 || position / block_size >= max_blocks || entry >= table_length ||
      block_table[entry] < 0)
    fail("sequence " + std::to_string(sequence) + " has no cache block for position " + std::to_string(position));
  return static_cast<int64_t>(block_table[entry]) * block_size + position % block_size;
}

namespace {

// The cache rows one query attends to, in order: row pointers into `rows` (the whole row, or an fp8 cache's
// NoPE bytes) and, for an fp8 cache, each row's block scales and RoPE values.
struct QueryRows {
  std::vector<const uint8_t*> rows;
  std::vector<const float*> scales;
  std::vector<const uint8_t*> rope;
  int64_t size() const { return static_cast<int64_t>(rows.size()); }
};

// The cache rows query s attends to (validated: every slot mapped and inside the cache).
void gather_rows_of(const BatchHost& batch, const LatentCache& cache, const Tensor* indices, int64_t s,
                    QueryRows& out) {
  out.rows.clear();
  out.scales.clear();
  out.rope.clear();
  const int64_t sequence = batch.sequence_ids[s];
  const int64_t slots = cache.rows.shape[0];
  const size_t expected =
      static_cast<size_t>(std::max<int64_t>(0, indices != nullptr ? indices->shape[1] : int64_t{batch.positions[s]} + 1));
  out.rows.reserve(expected);
  if (cache.fp8) {
    out.scales.reserve(expected);
    out.rope.reserve(expected);
  }
  auto add = [&](int64_t t) {
    int64_t slot = batch.slot(sequence, t);
    if (slot >= slots) fail("slot " + std::to_string(slot) + " is outside the cache of " + std::to_string(slots));
    out.rows.push_back(cache.rows.at(slot * cache.rows.strides[0]));
    if (cache.fp8) {
      out.scales.push_back(reinterpret_cast<const float*>(cache.scales.at(slot * cache.scales.strides[0])));
      out.rope.push_back(cache.rope.at(slot * cache.rope.strides[0]));
    }
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

// Checks an fp8 cache's three views against each other and q's width W; returns C (the NoPE width).
int64_t check_fp8_cache(const LatentCache& cache, int64_t W) {
  const Tensor& nope = cache.rows;
  expect_rank("latentCache.nope", nope, 2);
  expect_dtype("latentCache.nope", nope, DType::f8_e4m3);
  const int64_t slots = nope.shape[0], C = nope.shape[1];
  if (C > W) fail("latentCache.nope " + nope.describe() + " is wider than q's rows of " + std::to_string(W));
  const int64_t blocks = (C + kFp8LatentBlock - 1) / kFp8LatentBlock;
  expect_dtype("latentCache.scales", cache.scales, DType::f32);
  expect_shape("latentCache.scales", cache.scales, {slots, blocks});
  expect_dtype("latentCache.rope", cache.rope, DType::bf16);
  expect_shape("latentCache.rope", cache.rope, {slots, W - C});
  expect_dense_rows("latentCache.nope", nope);
  expect_dense_rows("latentCache.scales", cache.scales);
  expect_dense_rows("latentCache.rope", cache.rope);
  return C;
}

// Query s of t [S, H, X] as H f32 rows of row stride `ld`: t's own memory when `direct` (f32, unit column
// stride), else `packed` resized to [H, X] (the caller fills it, or copies it back).
float* query_rows(const Tensor& t, int64_t s, bool direct, std::vector<float>& packed, int64_t& ld) {
  if (direct) {
    ld = t.strides[1];
    return t.ptr<float>() + s * t.strides[0];
  }
  packed.resize(static_cast<size_t>(t.shape[1] * t.shape[2]));
  ld = t.shape[2];
  return packed.data();
}

}  // namespace

void mla_attention(const Context& ctx, const Tensor& out, const Tensor& q, const LatentCache& cache,
                   const BatchHost& batch, const Tensor* indices, double scale) {
  expect_rank("q", q, 3);
  const int64_t S = q.shape[0], H = q.shape[1], W = q.shape[2];
  expect_rank("out", out, 3);
  const int64_t C = out.shape[2];
  expect_shape("out", out, {S, H, C});
  if (C > W) fail("out width " + std::to_string(C) + " exceeds the cache width " + std::to_string(W));
  // Cn: the width of the rows' first part (the whole row, or the fp8 NoPE part).
  int64_t Cn = W;
  if (cache.fp8) {
    Cn = check_fp8_cache(cache, W);
    if (C > Cn) fail("out width " + std::to_string(C) + " exceeds the fp8 cache's NoPE width " + std::to_string(Cn));
  } else {
    expect_rank("latentCache", cache.rows, 2);
    if (cache.rows.shape[1] != W)
      fail("q " + q.describe() + " and latentCache " + cache.rows.describe() + " differ in width");
    expect_dense_rows("latentCache", cache.rows);
  }
  const int64_t R = W - Cn;  // fp8: the bf16 RoPE part; else 0
  if (batch.count != S) fail("batch has " + std::to_string(batch.count) + " queries, q has " + std::to_string(S));
  if (indices != nullptr) {
    expect_dtype("indices", *indices, DType::i32);
    expect_rank("indices", *indices, 2);
    if (indices->shape[0] != S) fail("indices " + indices->describe() + " do not match " + std::to_string(S) + " queries");
  }
  if (S == 0 || H == 0) return;
  // Validate every query's rows up front so no task throws half-way (the first bad query's error is thrown). A
  // sparse decode batch (at most 1M selected rows) keeps its rows for the queries; larger batches gather them again.
  const bool keep = indices != nullptr && S * indices->shape[1] <= (int64_t{1} << 20);
  // A decode batch's (at most 64K rows) kept per calling thread across calls, so that its rows land in vectors
  // already grown; larger ones are the call's own (not held after it).
  thread_local std::vector<QueryRows> kept_buffer;
  std::vector<QueryRows> kept_local;
  const bool reuse = keep && S * indices->shape[1] <= (int64_t{1} << 16);
  std::vector<QueryRows>& kept = reuse ? kept_buffer : kept_local;
  if (keep && kept.size() < static_cast<size_t>(S)) kept.resize(static_cast<size_t>(S));
  parallel_each_checked(ctx, S, 4, [&](int64_t s) {
    thread_local QueryRows scratch;  // the running thread's own
    gather_rows_of(batch, cache, indices, s, keep ? kept[s] : scratch);
  });
  const GemmKernels& kernels = gemm_for(ctx.isa);
  const float fscale = static_cast<float>(scale);
  const bool q_direct = q.dtype == DType::f32 && q.strides[2] == 1;
  const bool out_direct = out.dtype == DType::f32 && out.strides[2] == 1;

  auto run_query = [&](const Context& inner, int64_t s) {
    QueryRows gathered;
    if (!keep) gather_rows_of(batch, cache, indices, s, gathered);
    const QueryRows& rows = keep ? kept[s] : gathered;
    const int64_t T = rows.size();
    // q[s] as dense f32 rows, out[s] as dense f32 rows.
    std::vector<float> q_packed, out_packed;
    int64_t ldq, ldo;
    const float* qp = query_rows(q, s, q_direct, q_packed, ldq);
    float* op = query_rows(out, s, out_direct, out_packed, ldo);
    if (!q_direct)
      for (int64_t h = 0; h < H; h++)
        load_row_f32(q_packed.data() + h * W, q.at(s * q.strides[0] + h * q.strides[1]), q.dtype, W, q.strides[2]);
    if (T == 0) {
      for (int64_t h = 0; h < H; h++)
        for (int64_t c = 0; c < C; c++) op[h * ldo + c] = 0;
    } else if (inner.isa >= kAvx512Bf16) {
      const MlaRowsView view{rows.rows.data(), cache.fp8 ? rows.scales.data() : nullptr,
                             cache.fp8 ? rows.rope.data() : nullptr, cache.rows.dtype, T, W, Cn, C};
      // The calling thread's buffers; with the whole pool on one query its workers use them through these
      // references (a lambda naming a thread_local itself would reach the worker's own instance).
      thread_local MlaPackedBf16 packed_buffer;
      thread_local std::vector<uint32_t> qb_buffer, pb_buffer;
      thread_local std::vector<float> logits_buffer;
      MlaPackedBf16& packed = packed_buffer;
      std::vector<uint32_t>& qb = qb_buffer;
      std::vector<uint32_t>& pb = pb_buffer;
      std::vector<float>& logits = logits_buffer;
      mla_pack_size_bf16(view, H, packed);
      const int64_t ldl = packed.blocks * 16, ldp = packed.blocks * 8;
      qb.resize(static_cast<size_t>(H * packed.pairs));
      logits.resize(static_cast<size_t>(H * ldl));
      pb.resize(static_cast<size_t>(H * ldp));
      const int64_t block_grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, H * W));
      parallel_for(inner, packed.blocks, block_grain, [&](int64_t b0, int64_t b1) { mla_pack_bf16(view, packed, b0, b1); });
      mla_round_pairs_bf16(qp, ldq, H, W, packed.pairs, qb.data());
      parallel_for(inner, packed.blocks, block_grain,
                   [&](int64_t b0, int64_t b1) { mla_scores_bf16(qb.data(), H, packed, logits.data(), ldl, b0, b1); });
      parallel_for(inner, H, std::max<int64_t>(1, 16384 / T), [&](int64_t h0, int64_t h1) {
        for (int64_t h = h0; h < h1; h++) softmax_row(inner.isa, logits.data() + h * ldl, T, fscale);
        mla_round_pairs_bf16(logits.data() + h0 * ldl, ldl, h1 - h0, T, ldp, pb.data() + h0 * ldp);
      });
      parallel_for(inner, packed.cvecs, 4, [&](int64_t v0, int64_t v1) {
        mla_values_bf16(pb.data(), ldp, H, packed, C, op, ldo, v0, v1);
      });
    } else {
      std::vector<float> logits(static_cast<size_t>(H * T));
      // fp8: logits = q[:, :C] · (e4m3 · scale)ᵀ + q[:, C:] · ropeᵀ, the second part into rope_logits
      std::vector<float> rope_logits(cache.fp8 ? static_cast<size_t>(H * T) : 0);
      DotGemm scores{};
      scores.x = qp;
      scores.ldx = ldq;
      scores.M = H;
      scores.K = Cn;
      scores.w = rows.rows.data();
      scores.wdtype = cache.rows.dtype;
      scores.wscale = cache.fp8 ? rows.scales.data() : nullptr;
      scores.bk = cache.fp8 ? kFp8LatentBlock : Cn;
      scores.out = logits.data();
      scores.ldo = T;
      scores.alpha = 1.0f;
      DotGemm rope_scores = scores;
      rope_scores.x = qp + Cn;
      rope_scores.K = R;
      rope_scores.w = rows.rope.data();
      rope_scores.wdtype = DType::bf16;
      rope_scores.wscale = nullptr;
      rope_scores.bk = R;
      rope_scores.out = rope_logits.data();
      parallel_for_aligned(inner, T, 16, std::max<int64_t>(16, 65536 / std::max<int64_t>(1, H * W)),
                           [&](int64_t n0, int64_t n1) {
                             prefetch_rows_l2(rows.rows.data() + n0, n1 - n0,
                                              Cn * static_cast<int64_t>(dtype_bytes(cache.rows.dtype)));
                             if (cache.fp8 && R > 0) prefetch_rows_l2(rows.rope.data() + n0, n1 - n0, 2 * R);
                             kernels.dot(scores, n0, n1);
                             if (!cache.fp8 || R == 0) return;
                             kernels.dot(rope_scores, n0, n1);
                             for (int64_t h = 0; h < H; h++)
                               for (int64_t n = n0; n < n1; n++) logits[h * T + n] += rope_logits[h * T + n];
                           });
      parallel_for(inner, H, std::max<int64_t>(1, 16384 / T), [&](int64_t h0, int64_t h1) {
        for (int64_t h = h0; h < h1; h++) softmax_row(inner.isa, logits.data() + h * T, T, fscale);
      });
      AxpyGemm values{};
      values.a = logits.data();
      values.lda = T;
      values.M = H;
      values.K = T;
      values.b = rows.rows.data();
      values.bdtype = cache.rows.dtype;
      values.out = op;
      values.ldo = ldo;
      values.alpha = 1.0f;
      if (!cache.fp8) {
        parallel_for_aligned(inner, C, 64, std::max<int64_t>(64, 65536 / std::max<int64_t>(1, H * T)),
                             [&](int64_t n0, int64_t n1) { kernels.axpy(values, n0, n1); });
      } else {
        // Per scale block b of the columns: out[:, block] = (p · scale_b of each row) · e4m3[:, block].
        parallel_for_aligned(
            inner, C, kFp8LatentBlock, std::max<int64_t>(kFp8LatentBlock, 65536 / std::max<int64_t>(1, H * T)),
            [&](int64_t n0, int64_t n1) {
              float* scaled = scratch<float, 1>(H * T);
              for (int64_t b0 = n0; b0 < n1; b0 += kFp8LatentBlock) {
                const int64_t block = b0 / kFp8LatentBlock;
                for (int64_t h = 0; h < H; h++)
                  for (int64_t t = 0; t < T; t++) scaled[h * T + t] = logits[h * T + t] * rows.scales[t][block];
                AxpyGemm part = values;
                part.a = scaled;
                kernels.axpy(part, b0, std::min(n1, b0 + kFp8LatentBlock));
              }
            });
      }
    }
    if (!out_direct)
      for (int64_t h = 0; h < H; h++)
        store_row_f32(out.at(s * out.strides[0] + h * out.strides[1]), out.dtype, out.strides[2], op + h * C, C);
  };

  for_each_query(ctx, S, batch.positions, run_query);
}

}  // namespace dsa
