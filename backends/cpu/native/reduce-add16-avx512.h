// reduce_add16: the horizontal sums of 16 vectors at once, each bit for bit _mm512_reduce_add_ps (the same
// pairwise tree: halves, then quarters, then the pairs of each quarter, then the last pair), in 30 shuffles
// and 15 adds instead of about 9 operations per vector. Lane l of the result is the sum of
// v[(l % 4) * 4 + l / 4]; reduce_add16_rows puts the sum of v[l] in lane l, and store_sums_4x4 writes a 4x4
// tile's sums with it (the f32 and the bf16 precision's tiles). Include inside an AVX-512 `#pragma GCC target`
// region; internal linkage, so each file gets its own copy for its own target.
// (reduce16-avx512.h's tree is another: cheaper, and not the bits of _mm512_reduce_add_ps.)
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace dsa {
namespace {

inline __m512 reduce_add16(const __m512* v) {
  __m512 w[8], u[4], z[2];
  for (int p = 0; p < 8; p++)
    w[p] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)),
                         _mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)));
  for (int p = 0; p < 4; p++)
    u[p] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * p], w[2 * p + 1], _MM_SHUFFLE(3, 1, 3, 1)),
                         _mm512_shuffle_f32x4(w[2 * p], w[2 * p + 1], _MM_SHUFFLE(2, 0, 2, 0)));
  for (int p = 0; p < 2; p++)
    z[p] = _mm512_add_ps(_mm512_shuffle_ps(u[2 * p], u[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(u[2 * p], u[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm512_add_ps(_mm512_shuffle_ps(z[0], z[1], _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_ps(z[0], z[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// Lane l: _mm512_reduce_add_ps(acc[l]), bit for bit.
inline __m512 reduce_add16_rows(const __m512* acc) {
  __m512 v[16];
  for (int k = 0; k < 16; k++) v[k] = acc[(k % 4) * 4 + k / 4];
  return reduce_add16(v);
}

// A 4x4 tile's sums: out[i * ldo + j] = alpha · _mm512_reduce_add_ps(acc[4 * i + j]), bit for bit (acc: the
// tile's accumulators, row-major).
inline void store_sums_4x4(const __m512* acc, float alpha, float* out, int64_t ldo) {
  const __m512 r = _mm512_mul_ps(_mm512_set1_ps(alpha), reduce_add16_rows(acc));
  // The lane index must be an immediate: written out, as a loop is not unrolled in the sanitizer's low-opt build.
  _mm_storeu_ps(out + 0 * ldo, _mm512_extractf32x4_ps(r, 0));
  _mm_storeu_ps(out + 1 * ldo, _mm512_extractf32x4_ps(r, 1));
  _mm_storeu_ps(out + 2 * ldo, _mm512_extractf32x4_ps(r, 2));
  _mm_storeu_ps(out + 3 * ldo, _mm512_extractf32x4_ps(r, 3));
}

}  // namespace
}  // namespace dsa
