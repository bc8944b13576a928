// The indexer's top-k of one f32 score row: the threshold select of top-k.cc (select_top_k, any ISA) and, beside
// it, a select by counting on AVX-512 (top-k-row-avx512.cc) for rows of up to kCountSelectMaxN entries; both
// give the same indices (an exact selection), so the ISA never changes a result.
#pragma once

#include <cstdint>
#include <vector>

namespace dsa {

// Rows up to this long take select_top_k_avx512 where the CPU has AVX-512 (beyond, the threshold select's
// sampled start reads the row about once, and the counting passes would read it 18 times or more).
constexpr int64_t kCountSelectMaxN = 16384;

// Writes the winners of row[0, n) to out in ascending index order, by one pass: every entry above `bound`,
// and the first `ties` entries equal to it (ties go to the lower index); with bound -inf and no ties, every
// entry above -inf. The rest of out's k slots get -1.
void emit_in_order(const float* row, int64_t n, int64_t k, float bound, int64_t ties, int32_t* out);

// select_top_k's result (k >= 1) by counting: each entry as an order-preserving 32-bit key, then the k-th
// largest key bit by bit from the top (each bit one vector pass counting the keys at or above a candidate),
// 8 bits per round, after which the keys that no longer share the found prefix leave the list; then
// emit_in_order. Callers check the CPU first.
void select_top_k_avx512(const float* row, int64_t n, int64_t k, int32_t* out);

// select_top_k_avx512 where isa >= kAvx512, k >= 1 and n <= kCountSelectMaxN, else select_top_k.
void select_top_k_row(int isa, const float* row, int64_t n, int64_t k, int32_t* out, std::vector<int32_t>& scratch);

}  // namespace dsa
