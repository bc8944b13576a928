// Absorbed MLA attention of one query in the opt-in bf16 precision (AVX-512-BF16, attention-avx512bf16.cc):
// the query's latent rows, q and the softmax weights are rounded to bf16 once and multiplied by vdpbf16ps
// with f32 accumulation, in layouts that need no horizontal sums:
//   logits [H, T] = qb [H, W] · rowsᵀ     keys: 16 rows in the lanes, one K pair per vector
//   out [H, C]    = pb [H, T] · rows[:, :C] values: 16 columns in the lanes, one pair of rows per vector
// Every logit and output sums its pairs in ascending order in one accumulator, so a result does not depend
// on the tile it falls in, the thread split or the other queries of the batch. attention.cc drives it
// (gather, softmax between the two products); callers check the CPU first.
#pragma once

#include <cstdint>
#include <vector>

#include "dtype.h"

namespace dsa {

// The latent rows one query attends to, as the cache stores them: row t is rows[t], W elements of `dtype`
// (f32 or bf16), or for an fp8 cache Cn e4m3 values with scales[t] (one per 128) and a bf16 RoPE tail
// rope[t] of W - Cn. Values are the first C elements of a row.
struct MlaRowsView {
  const uint8_t* const* rows;
  const float* const* scales;  // fp8 only
  const uint8_t* const* rope;  // fp8 only
  DType dtype;                 // f32, bf16 or f8_e4m3
  int64_t T;
  int64_t W;
  int64_t Cn;
  int64_t C;
};

// One query's rows in bf16, packed for the two products.
struct MlaPackedBf16 {
  int64_t T = 0;
  int64_t blocks = 0;  // T in blocks of 16 rows (rows past T are zero)
  int64_t pairs = 0;   // W in pairs of elements, rounded up to 16 pairs (the pairs past W are zero)
  int64_t cvecs = 0;   // C in vectors of 16 columns
  // [blocks][pairs] vectors of 16 lanes: lane l = elements (2p, 2p + 1) of row 16b + l (empty on AMX).
  std::vector<uint16_t> keys;
  // [blocks · 8][cvecs] vectors of 16 lanes: lane l = column 16v + l of rows 2i and 2i + 1.
  std::vector<uint16_t> values;
  // [blocks · 16][pairs · 2]: the rows in bf16, zero-padded, which AMX's scores read (empty elsewhere).
  std::vector<uint16_t> natural;
};

// Sizes `packed` for `rows` (W at most 4096 elements) and H heads; then mla_pack_bf16 fills the 16-row blocks
// [b0, b1) (tasks on disjoint blocks may run in parallel). `keys` stays empty where the scores run on AMX
// (mla_amx_applies(H)): the tiles read the natural rows, which only they keep.
void mla_pack_size_bf16(const MlaRowsView& rows, int64_t H, MlaPackedBf16& packed);
void mla_pack_bf16(const MlaRowsView& rows, MlaPackedBf16& packed, int64_t b0, int64_t b1);

// dst[r] = bf16 pairs of src row r (n f32 elements, row stride ld), zero-padded to `pairs` pairs.
void mla_round_pairs_bf16(const float* src, int64_t ld, int64_t rows, int64_t n, int64_t pairs, uint32_t* dst);

// logits[h, 16b .. 16b + 15] for every head h in [0, H) and block b in [b0, b1): Σ_p qb[h, p] · keys (f32).
// qb: H rows of packed.pairs bf16 pairs (mla_round_pairs_bf16); logits: row stride ldl >= 16 · blocks.
void mla_scores_bf16(const uint32_t* qb, int64_t H, const MlaPackedBf16& packed, float* logits, int64_t ldl,
                     int64_t b0, int64_t b1);

// out[h, c] for every head h in [0, H) and column c in [16 v0, min(C, 16 v1)): Σ_i pb[h, i] · values.
// pb: H rows of ldp pairs, at least 8 · blocks of them (the pairs past T zero).
void mla_values_bf16(const uint32_t* pb, int64_t ldp, int64_t H, const MlaPackedBf16& packed, int64_t C, float* out,
                     int64_t ldo, int64_t v0, int64_t v1);

// The same two products on AMX tiles (attention-amx-bf16.cc), where mla_amx_applies(H): H a multiple of 16 and
// has_amx_bf16(). mla_scores_bf16 and mla_values_bf16 take this path themselves.
bool mla_amx_applies(int64_t H);
void mla_scores_amx(const uint32_t* qb, int64_t H, const MlaPackedBf16& packed, float* logits, int64_t ldl,
                    int64_t b0, int64_t b1);
void mla_values_amx(const uint32_t* pb, int64_t ldp, int64_t H, const MlaPackedBf16& packed, int64_t C, float* out,
                    int64_t ldo, int64_t v0, int64_t v1);

}  // namespace dsa
