// Scaled row accumulation on f32 data: out[c] = f32(out[c] + w · y[c]) with the sum and product in double, the
// arithmetic of the composite's indexAdd (MoE combine) that moeExperts' down phase and index_add repeat for every
// routed row. One readable scalar reference (add-scaled-row.cc) and the AVX-512 loop beside it
// (add-scaled-row-avx512.cc): the same bits (w · y of two f32 values is exact in double, so the one rounding is
// the sum's, then the f32 store's); add_scaled_row picks by ISA.
#pragma once

#include <cstdint>

namespace dsa {

// out[c] = f32(double(out[c]) + w · double(y[c])) for c in [0, n), unit strides.
void add_scaled_row_scalar(float* out, const float* y, double w, int64_t n);
// The same, 8 doubles per step. Callers check the CPU first.
void add_scaled_row_avx512(float* out, const float* y, double w, int64_t n);
// add_scaled_row_avx512 where isa >= kAvx512, else add_scaled_row_scalar.
void add_scaled_row(int isa, float* out, const float* y, double w, int64_t n);

}  // namespace dsa
