// softmax_row on AVX-512 (see softmax-row.h): three passes over the row, 16 lanes per step, the last partial
// vector masked. mlaAttention's scalar loop (std::exp per element, a double sum whose adds form one dependent
// chain) took about a third of its time at prefill. The exp is checked against double exp over every float in
// [-104, 0] by backends/cpu/dev/softmax-row-check.cc.
// Compiled for the avx512 target through the pragma below; callers check the CPU first.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <limits>

#include "softmax-row.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")

#include "lane-masks-avx512.h"

namespace dsa {
namespace {

// e^x per lane: x = k · ln 2 + r with k = round(x · log2 e) and |r| <= ln 2 / 2 (ln 2 in two parts, so r is
// exact to f32 rounding), e^r by Horner's rule over 1/j! for j <= 7 (truncation below 2^-27 relative), times
// 2^k by vscalefps. x is clamped to [-104, 88.5]: e^-104 rounds to 0 as in expf; NaN passes through (the
// second operand of max/min is returned for a NaN).
inline __m512 exp16(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
  x = _mm512_min_ps(_mm512_set1_ps(88.5f), x);
  const __m512 k =
      _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693145751953125f), x);  // ln 2, high part (exact times k)
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(1.42860682030941723e-6f), r);  // ln 2, the rest
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, k);
}

}  // namespace

void softmax_row_avx512(float* row, int64_t n, float scale) {
  const __m512 s = _mm512_set1_ps(scale);
  __m512 vmax = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = first16(n - i);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + i), s);
    vmax = _mm512_mask_max_ps(vmax, m, v, vmax);
  }
  const float max = _mm512_reduce_max_ps(vmax);
  if (max == -std::numeric_limits<float>::infinity()) {
    for (int64_t i = 0; i < n; i += 16) _mm512_mask_storeu_ps(row + i, first16(n - i), _mm512_setzero_ps());
    return;
  }
  const __m512 vm = _mm512_set1_ps(max);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = first16(n - i);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + i), s), vm));
    _mm512_mask_storeu_ps(row + i, m, e);
    sum = _mm512_mask_add_ps(sum, m, sum, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = first16(n - i);
    _mm512_mask_storeu_ps(row + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + i), inv));
  }
}

}  // namespace dsa

#pragma GCC pop_options
