// add_scaled_row on AVX-512 (see add-scaled-row.h): 8 f32 widened to double per step, w · y and the sum in
// double (no FMA: -ffp-contract=off, and the product is exact anyway), narrowed once; the last partial vector
// masked. The scalar loop cost moeExperts' down phase about 4% at 32 tokens (small: 32 experts × 4 rows × 1024
// columns per call, one element at a time because the column stride is not known to be 1).
// Compiled for the avx512 target through the pragma below; callers check the CPU first.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include "add-scaled-row.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")

#include "lane-masks-avx512.h"

namespace dsa {

void add_scaled_row_avx512(float* out, const float* y, double w, int64_t n) {
  const __m512d wv = _mm512_set1_pd(w);
  for (int64_t c = 0; c < n; c += 8) {
    const __mmask8 m = first8(n - c);
    const __m512d o = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, out + c));
    const __m512d v = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, y + c));
    _mm256_mask_storeu_ps(out + c, m, _mm512_cvtpd_ps(_mm512_add_pd(o, _mm512_mul_pd(wv, v))));
  }
}

}  // namespace dsa

#pragma GCC pop_options
