// RMS norm rows on f32 data: rmsNorm's and addRmsNorm's inner loop. One readable scalar reference (norm-row.cc)
// and the AVX-512 loop beside it (norm-row-avx512.cc); rms_norm_row picks by ISA, so every row of a run takes the
// same one (a row's result never depends on the batch or the split). norm.cc takes these where the rows, out and
// the residual are contiguous f32 and the weight contiguous f32 or bf16; other dtypes go through its double rows.
#pragma once

#include <cmath>
#include <cstdint>

namespace dsa {

// 1 / √(Σ v² / d + eps) in double: the RMS norm's scale, the one formula of every rmsNorm path (and layerNorm's,
// over the centered values).
inline double rms_inv(double sum_squares, int64_t d, double eps) { return 1 / std::sqrt(sum_squares / d + eps); }

// The weight of a row: d contiguous values, f32 or bf16 (`bf16` true).
struct NormWeight {
  const void* data;
  bool bf16;
};

// out[i] = f32(x[i] · inv · w[i]) in double, inv = 1 / sqrt(Σ x[i]² / d + eps); with `residual`, first
// residual[i] = f32(residual[i] + x[i]) and the norm of those stored values (x is then the added row).
// The scalar reference sums x² in order, as the reference backend does.
void rms_norm_row_scalar(const float* x, float* residual, float* out, NormWeight w, int64_t d, double eps);
// The same on AVX-512, 8 doubles per step: the squares (exact in double) summed in 8 lanes × 2 accumulators,
// so the sum may differ from the ordered one in its last bits. Callers check the CPU first.
void rms_norm_row_avx512(const float* x, float* residual, float* out, NormWeight w, int64_t d, double eps);
// rms_norm_row_avx512 where isa >= kAvx512, else rms_norm_row_scalar.
void rms_norm_row(int isa, const float* x, float* residual, float* out, NormWeight w, int64_t d, double eps);

}  // namespace dsa
