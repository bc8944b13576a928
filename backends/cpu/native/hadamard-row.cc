// The scalar Hadamard row and the ISA dispatch (see hadamard-row.h).
#include "hadamard-row.h"

#include "kernels.h"

namespace dsa {

void hadamard_row_scalar(double* v, int64_t d) {
  for (int64_t h = 1; h < d; h *= 2)
    for (int64_t i = 0; i < d; i += 2 * h)
      for (int64_t j = i; j < i + h; j++) {
        const double a = v[j], c = v[j + h];
        v[j] = a + c;
        v[j + h] = a - c;
      }
}

void hadamard_row(int isa, double* v, int64_t d) {
  if (isa >= kAvx512 && d >= 8)
    hadamard_row_avx512(v, d);
  else
    hadamard_row_scalar(v, d);
}

}  // namespace dsa
