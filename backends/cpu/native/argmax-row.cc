// The scalar greedy pick and the ISA dispatch (see argmax-row.h).
#include "argmax-row.h"

#include "kernels.h"

namespace dsa {

int64_t argmax_row_scalar(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return best;
}

int64_t argmax_row(int isa, const float* x, int64_t n) {
  return isa >= kAvx512 ? argmax_row_avx512(x, n) : argmax_row_scalar(x, n);
}

}  // namespace dsa
