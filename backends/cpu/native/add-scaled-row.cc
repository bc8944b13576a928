// The scalar scaled row accumulation and the ISA dispatch (see add-scaled-row.h).
#include "add-scaled-row.h"

#include "kernels.h"

namespace dsa {

void add_scaled_row_scalar(float* out, const float* y, double w, int64_t n) {
  for (int64_t c = 0; c < n; c++) out[c] = static_cast<float>(static_cast<double>(out[c]) + w * static_cast<double>(y[c]));
}

void add_scaled_row(int isa, float* out, const float* y, double w, int64_t n) {
  if (isa >= kAvx512)
    add_scaled_row_avx512(out, y, w, n);
  else
    add_scaled_row_scalar(out, y, w, n);
}

}  // namespace dsa
