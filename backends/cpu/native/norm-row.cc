// The scalar RMS norm row and the ISA dispatch (see norm-row.h).
#include "norm-row.h"

#include <cmath>

#include "convert.h"
#include "kernels.h"

namespace dsa {

void rms_norm_row_scalar(const float* x, float* residual, float* out, NormWeight w, int64_t d, double eps) {
  const float* v = x;
  if (residual != nullptr) {
    for (int64_t i = 0; i < d; i++) residual[i] = residual[i] + x[i];  // f32 add: the double sum rounded once
    v = residual;
  }
  double sum = 0;
  for (int64_t i = 0; i < d; i++) sum += static_cast<double>(v[i]) * v[i];
  const double inv = rms_inv(sum, d, eps);
  const float* wf = static_cast<const float*>(w.data);
  const uint16_t* wb = static_cast<const uint16_t*>(w.data);
  for (int64_t i = 0; i < d; i++) {
    const double wi = w.bf16 ? bf16_to_f32(wb[i]) : wf[i];
    out[i] = static_cast<float>(v[i] * inv * wi);
  }
}

void rms_norm_row(int isa, const float* x, float* residual, float* out, NormWeight w, int64_t d, double eps) {
  if (isa >= kAvx512)
    rms_norm_row_avx512(x, residual, out, w, d, eps);
  else
    rms_norm_row_scalar(x, residual, out, w, d, eps);
}

}  // namespace dsa
