// The scalar SwiGLU row and the ISA dispatch (see swiglu-row.h).
#include "swiglu-row.h"

#include "kernels.h"

namespace dsa {

void swiglu_row_scalar(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    out[i] = static_cast<float>(silu(gate[i])) * up[i];
  }
}

void swiglu_row(int isa, const float* gate, const float* up, float* out, int64_t n) {
  if (isa >= kAvx512)
    swiglu_row_avx512(gate, up, out, n);
  else
    swiglu_row_scalar(gate, up, out, n);
}

}  // namespace dsa
