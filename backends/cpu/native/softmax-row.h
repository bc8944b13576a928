// softmax(scale · row) in place over one row of f32 logits: mlaAttention's per-head softmax. One readable scalar
// reference (softmax-row.cc) and the AVX-512 loop beside it (softmax-row-avx512.cc); softmax_row picks by ISA, so
// every query of a run takes the same one (the result of a row never depends on the batch or the split).
#pragma once

#include <cstdint>

namespace dsa {

// row[i] = e^(scale · row[i] − max) / Σ_j e^(scale · row[j] − max), max = max_j scale · row[j]; an all −inf
// row (no position to attend) becomes zeros. The reference: exp in f32, the sum in double.
void softmax_row_scalar(float* row, int64_t n, float scale);
// The same on AVX-512, 16 lanes per step: e^x within 1 ulp (0.94 over [-104, 0]; x reduced by ln 2, Taylor series to the 7th
// power, vscalefps), the sum in f32 lanes. Callers check the CPU first.
void softmax_row_avx512(float* row, int64_t n, float scale);
// softmax_row_avx512 where isa >= kAvx512, else softmax_row_scalar.
void softmax_row(int isa, float* row, int64_t n, float scale);

}  // namespace dsa
