// swiglu_row on AVX-512 (see swiglu-row.h), 8 lanes of double per step, the last partial vector masked. The
// scalar loop (std::exp per element) ran at about 6 ns per element: small's batch-32 step spent 0.3 ms in the
// swiglu kernel and about as much in moeExperts' activation. The exp is checked against std::exp by
// backends/cpu/dev/swiglu-row-check.cc.
// Compiled for the avx512 target through the pragma below; callers check the CPU first.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include "swiglu-row.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")

#include "lane-masks-avx512.h"

namespace dsa {
namespace {

// e^x per lane in double: x = k · ln 2 + r with k = round(x · log2 e) and |r| <= ln 2 / 2 (ln 2 in two parts,
// the high one with 32 significant bits, so k · high is exact), e^r by Horner's rule over 1/j! for j <= 13
// (truncation below 2^-57 relative), times 2^k by vscalefpd. x is clamped to [-746, 710] (e^-746 rounds to 0
// and e^710 to infinity, as in exp); NaN passes through (max and min return their second operand for a NaN).
inline __m512d exp8d(__m512d x) {
  x = _mm512_max_pd(_mm512_set1_pd(-746.0), x);
  x = _mm512_min_pd(_mm512_set1_pd(710.0), x);
  const __m512d k =
      _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(6.93147180369123816490e-01), x);
  r = _mm512_fnmadd_pd(k, _mm512_set1_pd(1.90821492927058770002e-10), r);
  // 1/j! for j = 13 down to 2.
  constexpr double kInvFactorial[] = {1.0 / 6227020800, 1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800,
                                      1.0 / 362880,     1.0 / 40320,     1.0 / 5040,     1.0 / 720,
                                      1.0 / 120,        1.0 / 24,        1.0 / 6,        1.0 / 2};
  __m512d p = _mm512_set1_pd(kInvFactorial[0]);
  for (int j = 1; j < 12; j++) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(kInvFactorial[j]));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
  return _mm512_scalef_pd(p, k);
}

}  // namespace

void swiglu_row_avx512(const float* gate, const float* up, float* out, int64_t n) {
  const __m512d one = _mm512_set1_pd(1.0);
  for (int64_t i = 0; i < n; i += 8) {
    const __mmask8 m = first8(n - i);
    const __m512d g = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, gate + i));
    const __m512d e = exp8d(_mm512_sub_pd(_mm512_setzero_pd(), g));
    const __m256 silu = _mm512_cvtpd_ps(_mm512_div_pd(g, _mm512_add_pd(one, e)));
    _mm256_mask_storeu_ps(out + i, m, _mm256_mul_ps(silu, _mm256_maskz_loadu_ps(m, up + i)));
  }
}

}  // namespace dsa

#pragma GCC pop_options
