// Greedy pick over one row of f32 logits: the first index whose value is greater than every earlier one's, the
// sampler's temperature-0 rule (`x[i] > x[best]` from best = 0, so NaN is never picked past index 0 and the first
// of equal maxima wins). One readable scalar reference (argmax-row.cc) and the AVX-512 loop beside it
// (argmax-row-avx512.cc), the same index for every row; argmax_row picks by ISA. The sampler takes it for a
// greedy row with no bias and no history (its double path would widen 32000 logits first: 90 µs a token on
// `small`).
#pragma once

#include <cstdint>

namespace dsa {

// The index as above over x[0, n), n >= 1.
int64_t argmax_row_scalar(const float* x, int64_t n);
// The same: the largest non-NaN value by vector maxima, then its first index (or 0 where x[0] is NaN or no value
// is a number). Callers check the CPU first.
int64_t argmax_row_avx512(const float* x, int64_t n);
// argmax_row_avx512 where isa >= kAvx512, else argmax_row_scalar.
int64_t argmax_row(int isa, const float* x, int64_t n);

}  // namespace dsa
