// quantizeFp8 on AVX-512 for dense f32 rows (the indexer's q and keys, the fp8 latent rows): the same bits as
// fp8.cc's scalar walk (backends/reference/src/fp8-quant.ts), 16 values per step:
//  - amax per block exactly (max of |x| in f32, then max with 1e-4 in double), the scale in scalar double;
//  - y = f32(x / scale): one f32 division, which rounds like the scalar f32(double(x) / double(scale))
//    (53 ≥ 2 · 24 + 2: double rounding is innocuous for a quotient);
//  - e4m3 by integer rounding of y's bits (nearest even; a mantissa carry moves into the exponent), below 2^-6
//    by rounding y · 512 to an integer (exact scaling, then the 2^23 trick); ±448 clamp.
// A row holding an Infinity or a NaN is left to the scalar walk (the function returns false).
// Compiled for the avx512 target through the pragma below; callers check the CPU first.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "fp8-quantize-avx512.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")

#include "lane-masks-avx512.h"

namespace dsa {
namespace {

// e4m3 codes of 16 finite f32 values already clamped to ±448, in the low byte of each lane.
inline __m512i e4m3_codes(__m512 y) {
  const __m512i bits = _mm512_castps_si512(y);
  const __m512i sign = _mm512_and_si512(_mm512_srli_epi32(bits, 24), _mm512_set1_epi32(0x80));
  const __m512i mag = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff));
  const __m512 a = _mm512_castsi512_ps(mag);
  // Normal: round the 23-bit mantissa to 3 bits (ties to even), rebias 127 -> 7.
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(mag, 20), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_add_epi32(mag, _mm512_add_epi32(_mm512_set1_epi32(0x7ffff), odd));
  const __m512i normal = _mm512_sub_epi32(_mm512_srli_epi32(rounded, 20), _mm512_set1_epi32((127 - 7) << 3));
  // Below 2^-6: the spacing is 2^-9, code = round(a · 512) (8 is 2^-6's code).
  const __m512 magic = _mm512_set1_ps(8388608.0f);
  const __m512 m = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(a, _mm512_set1_ps(512.0f)), magic), magic);
  const __m512i sub = _mm512_cvttps_epi32(m);
  const __mmask16 small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.015625f), _CMP_LT_OQ);
  return _mm512_or_si512(_mm512_mask_blend_epi32(small, normal, sub), sign);
}


}  // namespace

bool quantize_fp8_row_avx512(const float* x, int64_t d, int64_t block_size, bool ue8m0, uint8_t* q, float* scales,
                             double (*ue8m0_scale)(double)) {
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  for (int64_t start = 0, blk = 0; start < d; start += block_size, blk++) {
    const int64_t end = std::min(d, start + block_size);
    __m512 vmax = _mm512_setzero_ps();
    __mmask16 special = 0;  // lanes holding an Infinity or a NaN
    for (int64_t i = start; i < end; i += 16) {
      const __m512 v = _mm512_maskz_loadu_ps(first16(end - i), x + i);
      special |= _mm512_fpclass_ps_mask(v, 0x99);
      vmax = _mm512_max_ps(_mm512_and_ps(v, abs_mask), vmax);
    }
    // The scalar walk takes the row (its scale can be 2^128 or NaN, kept in double there) and rewrites it whole.
    if (special) return false;
    const float fmax = _mm512_reduce_max_ps(vmax);
    const double amax = std::max(1e-4, static_cast<double>(fmax));
    const double s = ue8m0 ? ue8m0_scale(amax) : static_cast<double>(static_cast<float>(amax / 448.0));
    scales[blk] = static_cast<float>(s);
    const __m512 sv = _mm512_set1_ps(static_cast<float>(s));
    const __m512 hi = _mm512_set1_ps(448.0f), lo = _mm512_set1_ps(-448.0f);
    for (int64_t i = start; i < end; i += 16) {
      const __mmask16 mk = first16(end - i);
      const __m512 y = _mm512_div_ps(_mm512_maskz_loadu_ps(mk, x + i), sv);
      const __m512 clamped = _mm512_max_ps(lo, _mm512_min_ps(hi, y));
      _mm_mask_storeu_epi8(q + i, mk, _mm512_cvtepi32_epi8(e4m3_codes(clamped)));
    }
  }
  return true;
}

}  // namespace dsa

#pragma GCC pop_options
