// SwiGLU rows on f32 data: the swiglu kernel's and moeExperts' activation. One readable scalar reference
// (swiglu-row.cc) and the AVX-512 loop beside it (swiglu-row-avx512.cc); swiglu_row picks by ISA, so every
// element of a run takes the same one (an element's result never depends on the batch, the split or its place).
#pragma once

#include <cmath>
#include <cstdint>

namespace dsa {

// silu(g) = g / (1 + e^-g) in double: the one formula of the scalar paths (the `silu` unary op, the swiglu
// kernel's other dtypes and strides, and swiglu_row_scalar).
inline double silu(double g) { return g / (1 + std::exp(-g)); }

// out[i] = f32(silu(gate[i])) · up[i] (an f32 product), silu in double as the composite computes it. The scalar
// reference calls std::exp.
void swiglu_row_scalar(const float* gate, const float* up, float* out, int64_t n);
// The same on AVX-512, 8 doubles per step: e^-g within about 1 ulp of double (the rounding to f32 hides it but
// for values within a few double ulps of an f32 rounding boundary; backends/cpu/dev/swiglu-row-check.cc counts
// them). Callers check the CPU first.
void swiglu_row_avx512(const float* gate, const float* up, float* out, int64_t n);
// swiglu_row_avx512 where isa >= kAvx512, else swiglu_row_scalar.
void swiglu_row(int isa, const float* gate, const float* up, float* out, int64_t n);

}  // namespace dsa
