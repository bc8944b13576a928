// argmax_row on AVX-512 (see argmax-row.h): where x[0] is a number, the scalar rule picks the first index of the
// largest number in the row (NaN compares false both ways, so it is never taken and never blocks a later value;
// -0 and +0 are equal, so the first of them wins). Pass 1 takes that maximum over the numbers (NaN lanes masked
// out), pass 2 the first index equal to it. Where x[0] is NaN nothing compares greater, so the answer is 0.
// Compiled for the avx512 target through the pragma below; callers check the CPU first.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <cmath>

#include "argmax-row.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")

#include "lane-masks-avx512.h"

namespace dsa {

int64_t argmax_row_avx512(const float* x, int64_t n) {
  if (std::isnan(x[0])) return 0;
  __m512 best = _mm512_set1_ps(x[0]);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = first16(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __mmask16 numbers = _mm512_mask_cmp_ps_mask(m, v, v, _CMP_ORD_Q);
    best = _mm512_mask_max_ps(best, numbers, best, v);
  }
  const float top = _mm512_reduce_max_ps(best);
  const __m512 t = _mm512_set1_ps(top);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = first16(n - i);
    const __mmask16 hit = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, x + i), t, _CMP_EQ_OQ);
    if (hit != 0) return i + __builtin_ctz(static_cast<unsigned>(hit));
  }
  return 0;
}

}  // namespace dsa

#pragma GCC pop_options
