// transpose16: a 16 x 16 transpose of 32-bit elements held in 16 vectors (the bf16 panels' pair layouts:
// gemm-avx512bf16.cc, attention-avx512bf16.cc). Include inside an AVX-512 `#pragma GCC target` region;
// internal linkage, so each file gets its own copy for its own target.
#pragma once

#include <immintrin.h>

namespace dsa {
namespace {

// In place: r[l] lane c <- r[c] lane l (a 16 x 16 transpose of 32-bit elements).
inline void transpose16(__m512i (&r)[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  // Now r[4q + j] holds, in 128-bit lane L, row 4q + (0..3)'s column 4L + j. Gather the 128-bit lanes.
  for (int q = 0; q < 2; q++)
    for (int j = 0; j < 4; j++) {
      t[8 * q + j] = _mm512_shuffle_i32x4(r[8 * q + j], r[8 * q + 4 + j], _MM_SHUFFLE(2, 0, 2, 0));
      t[8 * q + 4 + j] = _mm512_shuffle_i32x4(r[8 * q + j], r[8 * q + 4 + j], _MM_SHUFFLE(3, 1, 3, 1));
    }
  for (int j = 0; j < 8; j++) {
    r[j] = _mm512_shuffle_i32x4(t[j], t[8 + j], _MM_SHUFFLE(2, 0, 2, 0));
    r[8 + j] = _mm512_shuffle_i32x4(t[j], t[8 + j], _MM_SHUFFLE(3, 1, 3, 1));
  }
}

}  // namespace
}  // namespace dsa
