// One token of the rope kernel: the cosines and sines of its rotary angles, and the rotation of one head's f32
// row by them. One readable scalar reference (rope-row.cc: std::cos and std::sin, the rotation in double) and the
// AVX-512 loops beside it (rope-row-avx512.cc); rope_angles and rope_rotate pick by ISA, so every token of a run
// takes the same ones.
#pragma once

#include <cstdint>

namespace dsa {

// cs[i] = cos(a_i) · scale and sn[i] = sin(a_i) · scale in double, a_i = f32(position · inv_freq[i]) (the angle
// rounded to f32, as the reference computes it), for i in [0, half).
void rope_angles_scalar(float position, const float* inv_freq, int64_t half, double scale, double* cs, double* sn);
// The same on AVX-512, 8 angles per step: |a| reduced by π/2 in three parts (Cody-Waite, exact products by FMA),
// fdlibm's sine and cosine polynomials on [−π/4, π/4], within about 1 ulp of std::cos / std::sin
// (backends/cpu/dev/rope-row-check.cc measures it, and how often a rotated f32 value differs). Angles beyond
// 2^20 (where the reduction would lose bits) take the scalar loop. Callers check the CPU first.
void rope_angles_avx512(float position, const float* inv_freq, int64_t half, double scale, double* cs, double* sn);
// rope_angles_avx512 where isa >= kAvx512, else rope_angles_scalar.
void rope_angles(int isa, float position, const float* inv_freq, int64_t half, double scale, double* cs, double* sn);

// Rotates the pairs (a, c) of one contiguous row of 2 · half values of T in place: x_a · cs[i] − x_c · sn[i] and
// x_c · cs[i] + x_a · sn[i] in double, each rounded to T once; pair i is (2i, 2i + 1) when `interleaved`, else
// (i, i + half). T = float: rope_rotate_scalar; T = double: rope.cc's rows of other dtypes and strides.
template <class T>
inline void rope_rotate_pairs(T* row, const double* cs, const double* sn, int64_t half, bool interleaved) {
  for (int64_t i = 0; i < half; i++) {
    const int64_t a = interleaved ? 2 * i : i, c = interleaved ? 2 * i + 1 : i + half;
    const double x0 = row[a], x1 = row[c];
    row[a] = static_cast<T>(x0 * cs[i] - x1 * sn[i]);
    row[c] = static_cast<T>(x1 * cs[i] + x0 * sn[i]);
  }
}

// rope_rotate_pairs on an f32 row. The AVX-512 loop does the same operations per element, so the same bits.
void rope_rotate_scalar(float* row, const double* cs, const double* sn, int64_t half, bool interleaved);
void rope_rotate_avx512(float* row, const double* cs, const double* sn, int64_t half, bool interleaved);
// rope_rotate_avx512 where isa >= kAvx512, else rope_rotate_scalar.
void rope_rotate(int isa, float* row, const double* cs, const double* sn, int64_t half, bool interleaved);

}  // namespace dsa
