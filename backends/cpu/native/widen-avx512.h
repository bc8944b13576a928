// Exact widenings of 8-bit weights to f32 for AVX-512 kernels, 16 values per step. Include only from a
// file compiled for avx512f/bw/vl (a `#pragma GCC target` region): the functions are inline and take that
// target from the includer. Shared by the f32 kernels (gemm-avx512.cc) and the bf16-precision panels
// (gemm-avx512bf16.cc).
#pragma once

#include <immintrin.h>

namespace dsa {

// e4m3 bits s.eeee.mmm -> f16 bits s.0eeee.mmm0000000, an f16 worth value · 2^-8 (subnormals too):
// shift the byte to the top of a 16-bit lane, shift right arithmetically by one (the sign lands on
// bits 15 and 14) and clear bit 14. The NaN code 0x7f widens to 480 · 2^-8 (checkpoints hold no NaN).
inline __m512 widen_e4m3_x2p8(__m128i bytes) {
  __m256i w = _mm256_slli_epi16(_mm256_cvtepu8_epi16(bytes), 8);
  return _mm512_cvtph_ps(_mm256_and_si256(_mm256_srai_epi16(w, 1), _mm256_set1_epi16(static_cast<short>(0xbfff))));
}

// i8 (GGUF Q8_0 quants): sign-extended to 32 bits and converted, exact.
inline __m512 widen_i8(__m128i bytes) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes)); }

}  // namespace dsa
