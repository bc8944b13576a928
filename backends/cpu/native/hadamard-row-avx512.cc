// hadamard_row on AVX-512 (see hadamard-row.h). The scalar butterflies took about 5 µs per hadamard call for
// small's fp8 indexer at batch 8 (64 rows of 64).
// Compiled for the avx512 target through the pragma below; callers check the CPU first.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include "hadamard-row.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")

namespace dsa {
namespace {

// One in-vector level: lane l pairs with lane l ^ h (partner, from the permute); the lanes with bit h clear
// take a + c (own + partner), the others a − c (partner − own).
inline __m512d level(__m512d v, __m512d partner, __mmask8 upper) {
  return _mm512_mask_sub_pd(_mm512_add_pd(v, partner), upper, partner, v);
}

}  // namespace

void hadamard_row_avx512(double* v, int64_t d) {
  for (int64_t i = 0; i < d; i += 8) {
    __m512d x = _mm512_loadu_pd(v + i);
    x = level(x, _mm512_permute_pd(x, 0x55), 0xaa);                         // h = 1: swap neighbours
    x = level(x, _mm512_permutex_pd(x, _MM_SHUFFLE(1, 0, 3, 2)), 0xcc);     // h = 2: swap pairs
    x = level(x, _mm512_shuffle_f64x2(x, x, _MM_SHUFFLE(1, 0, 3, 2)), 0xf0);  // h = 4: swap halves
    _mm512_storeu_pd(v + i, x);
  }
  for (int64_t h = 8; h < d; h *= 2)
    for (int64_t i = 0; i < d; i += 2 * h)
      for (int64_t j = i; j < i + h; j += 8) {
        const __m512d a = _mm512_loadu_pd(v + j), c = _mm512_loadu_pd(v + j + h);
        _mm512_storeu_pd(v + j, _mm512_add_pd(a, c));
        _mm512_storeu_pd(v + j + h, _mm512_sub_pd(a, c));
      }
}

}  // namespace dsa

#pragma GCC pop_options
