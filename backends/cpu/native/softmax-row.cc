// The scalar softmax row and the ISA dispatch (see softmax-row.h).
#include "softmax-row.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels.h"

namespace dsa {

void softmax_row_scalar(float* row, int64_t n, float scale) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; i++) max = std::max(max, row[i] * scale);
  if (max == -std::numeric_limits<float>::infinity()) {
    for (int64_t i = 0; i < n; i++) row[i] = 0;
    return;
  }
  double sum = 0;
  for (int64_t i = 0; i < n; i++) {
    row[i] = std::exp(row[i] * scale - max);
    sum += row[i];
  }
  const float inv = static_cast<float>(1 / sum);
  for (int64_t i = 0; i < n; i++) row[i] *= inv;
}

void softmax_row(int isa, float* row, int64_t n, float scale) {
  if (isa >= kAvx512)
    softmax_row_avx512(row, n, scale);
  else
    softmax_row_scalar(row, n, scale);
}

}  // namespace dsa
