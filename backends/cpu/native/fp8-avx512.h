// f8_e4m3 (OCP e4m3fn) decoding for AVX-512 kernels, 64 values per step. Include only from a file
// compiled for avx512f/bw + avx512vbmi (a `#pragma GCC target` region): the functions are inline and
// take that target from the includer.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace dsa {

// Two 128-entry byte tables for vpermi2b (AVX512-VBMI): the high and the low byte of bits(i), the top 16
// bits of an f32 (so a bf16), for i in [0, 128). Looked up 64 bytes at a time, the byte pairs interleaved
// into 16-bit words give 64 bf16 values.
struct Bf16ByteTables {
  __m512i hi0, hi1, lo0, lo1;
  template <class Bits>
  explicit Bf16ByteTables(Bits bits) {
    alignas(64) uint8_t hi[128], lo[128];
    for (int i = 0; i < 128; i++) {
      const uint32_t b = bits(i);
      hi[i] = static_cast<uint8_t>(b >> 24);
      lo[i] = static_cast<uint8_t>(b >> 16);
    }
    hi0 = _mm512_load_si512(hi);
    hi1 = _mm512_load_si512(hi + 64);
    lo0 = _mm512_load_si512(lo);
    lo1 = _mm512_load_si512(lo + 64);
  }
};

// The f32 bits of a float.
inline uint32_t f32_bits(float v) {
  uint32_t bits;
  __builtin_memcpy(&bits, &v, 4);
  return bits;
}

// f8_e4m3 weights decoded by table lookup: the top 16 bits of the f32 of every e4m3 magnitude (exact,
// subnormals included; 0x7f gives NaN); the sign bit is or-ed into the high byte; the byte pairs are
// interleaved into 16-bit words, bf16 or widened to f32 (even words by a shift, odd ones by a mask).
// 64 weights cost 13 instructions to f32 instead of 20 through f16.
struct Fp8Table : Bf16ByteTables {
  Fp8Table()
      : Bf16ByteTables([](int i) {
          const int e = i >> 3, m = i & 7;
          const float v = e == 0 ? static_cast<float>(m) * (1.0f / 512.0f)
                                 : (1.0f + static_cast<float>(m) / 8.0f) * static_cast<float>(1u << e) * (1.0f / 128.0f);
          return i == 0x7f ? 0x7fc00000u : f32_bits(v);
        }) {}
};

// 64 e4m3 bytes -> two vectors of 32 bf16 words (exact: the f32 bits' top half): w[0] holds bytes
// 16L..16L+7 of each 128-bit lane L, w[1] bytes 16L+8..16L+15, in order.
// The element (0..63) that fp8_widen64_bf16 puts in word j of vector v.
constexpr int fp8_widen64_bf16_element(int v, int j) { return 16 * (j / 8) + 8 * v + j % 8; }

inline void fp8_widen64_bf16(const Fp8Table& t, __m512i bytes, __m512i w[2]) {
  const __m512i hi = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(t.hi0, bytes, t.hi1), bytes,
                                               _mm512_set1_epi8(static_cast<char>(0x80)), 0xf8);  // a | (b & c)
  const __m512i lo = _mm512_permutex2var_epi8(t.lo0, bytes, t.lo1);
  w[0] = _mm512_unpacklo_epi8(lo, hi);
  w[1] = _mm512_unpackhi_epi8(lo, hi);
}

// 64 e4m3 bytes -> four f32 vectors: f[0] even / f[1] odd elements of bytes 16L..16L+7 of each 128-bit
// lane L, f[2] / f[3] the same of bytes 16L+8..16L+15 (the order pack_fp8 gives x).
// The element (0..63) that fp8_widen64 puts in lane d of vector v.
constexpr int fp8_widen64_element(int v, int d) { return 16 * (d / 4) + 8 * (v / 2) + 2 * (d % 4) + v % 2; }

inline void fp8_widen64(const Fp8Table& t, const uint8_t* p, __m512 f[4]) {
  __m512i w[2];
  fp8_widen64_bf16(t, _mm512_loadu_si512(p), w);
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  f[0] = _mm512_castsi512_ps(_mm512_slli_epi32(w[0], 16));
  f[1] = _mm512_castsi512_ps(_mm512_and_si512(w[0], high));
  f[2] = _mm512_castsi512_ps(_mm512_slli_epi32(w[1], 16));
  f[3] = _mm512_castsi512_ps(_mm512_and_si512(w[1], high));
}

}  // namespace dsa
