// The scalar rope row (angles and rotation) and the ISA dispatch (see rope-row.h).
#include "rope-row.h"

#include <cmath>

#include "kernels.h"

namespace dsa {

void rope_angles_scalar(float position, const float* inv_freq, int64_t half, double scale, double* cs, double* sn) {
  for (int64_t i = 0; i < half; i++) {
    const float angle = position * inv_freq[i];
    cs[i] = std::cos(static_cast<double>(angle)) * scale;
    sn[i] = std::sin(static_cast<double>(angle)) * scale;
  }
}

void rope_angles(int isa, float position, const float* inv_freq, int64_t half, double scale, double* cs, double* sn) {
  if (isa >= kAvx512)
    rope_angles_avx512(position, inv_freq, half, scale, cs, sn);
  else
    rope_angles_scalar(position, inv_freq, half, scale, cs, sn);
}

void rope_rotate_scalar(float* row, const double* cs, const double* sn, int64_t half, bool interleaved) {
  rope_rotate_pairs(row, cs, sn, half, interleaved);
}

void rope_rotate(int isa, float* row, const double* cs, const double* sn, int64_t half, bool interleaved) {
  if (isa >= kAvx512)
    rope_rotate_avx512(row, cs, sn, half, interleaved);
  else
    rope_rotate_scalar(row, cs, sn, half, interleaved);
}

}  // namespace dsa
