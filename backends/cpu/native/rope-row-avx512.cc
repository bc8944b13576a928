// rope_angles and rope_rotate on AVX-512 (see rope-row.h). std::cos and std::sin per angle took about 19 ns a pair:
// small's 32 rope calls per decode step spent most of their time on them (rope: 190 µs per step at batch 8).
// Compiled for the avx512 target through the pragma below; callers check the CPU first.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include "rope-row.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")

#include "lane-masks-avx512.h"

namespace dsa {
namespace {

// Angles up to this magnitude keep k · (π/2)'s first part exact (k < 2^21, 33 bits of π/2) and x − k · part1
// exact in double.
constexpr double kMaxAngle = 1048576.0;  // 2^20

// sin(x) and cos(x) per lane. x = k · π/2 + r, |r| <= π/4 (π/2 in three parts of fdlibm's __ieee754_rem_pio2,
// each product exact in the FMA); then fdlibm's __kernel_sin and __kernel_cos on r (no tail), and the quadrant
// k mod 4 picks and signs them.
inline void sincos8d(__m512d x, __m512d& sin_x, __m512d& cos_x) {
  const __m512d k = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(6.36619772367581382433e-01)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(1.57079632673412561417e+00), x);
  r = _mm512_fnmadd_pd(k, _mm512_set1_pd(6.07710050630396597660e-11), r);
  r = _mm512_fnmadd_pd(k, _mm512_set1_pd(2.02226624871116645580e-21), r);
  const __m512d z = _mm512_mul_pd(r, r);
  // __kernel_sin: r + r³ · (S1 + z · (S2 + z · (S3 + z · (S4 + z · (S5 + z · S6))))).
  __m512d ps = _mm512_set1_pd(1.58969099521155010221e-10);
  ps = _mm512_fmadd_pd(ps, z, _mm512_set1_pd(-2.50507602534068634195e-08));
  ps = _mm512_fmadd_pd(ps, z, _mm512_set1_pd(2.75573137070700676789e-06));
  ps = _mm512_fmadd_pd(ps, z, _mm512_set1_pd(-1.98412698298579493134e-04));
  ps = _mm512_fmadd_pd(ps, z, _mm512_set1_pd(8.33333333332248946124e-03));
  ps = _mm512_fmadd_pd(ps, z, _mm512_set1_pd(-1.66666666666666324348e-01));
  const __m512d s = _mm512_fmadd_pd(_mm512_mul_pd(z, r), ps, r);
  // __kernel_cos: w + (((1 − w) − z/2) + z² · (C1 + z · (... C6))), w = 1 − z/2.
  __m512d pc = _mm512_set1_pd(-1.13596475577881948265e-11);
  pc = _mm512_fmadd_pd(pc, z, _mm512_set1_pd(2.08757232129817482790e-09));
  pc = _mm512_fmadd_pd(pc, z, _mm512_set1_pd(-2.75573143513906633035e-07));
  pc = _mm512_fmadd_pd(pc, z, _mm512_set1_pd(2.48015872894767294178e-05));
  pc = _mm512_fmadd_pd(pc, z, _mm512_set1_pd(-1.38888888888741095749e-03));
  pc = _mm512_fmadd_pd(pc, z, _mm512_set1_pd(4.16666666666666019037e-02));
  const __m512d one = _mm512_set1_pd(1.0);
  const __m512d hz = _mm512_mul_pd(_mm512_set1_pd(0.5), z);
  const __m512d w = _mm512_sub_pd(one, hz);
  const __m512d c =
      _mm512_add_pd(w, _mm512_add_pd(_mm512_sub_pd(_mm512_sub_pd(one, w), hz), _mm512_mul_pd(_mm512_mul_pd(z, z), pc)));
  // Quadrant q = k mod 4: sin = (s, c, −s, −c)[q], cos = (c, −s, −c, s)[q].
  const __m512i q = _mm512_cvtpd_epi64(k);
  const __mmask8 odd = _mm512_test_epi64_mask(q, _mm512_set1_epi64(1));
  const __mmask8 sin_neg = _mm512_test_epi64_mask(q, _mm512_set1_epi64(2));
  const __mmask8 cos_neg = _mm512_test_epi64_mask(_mm512_add_epi64(q, _mm512_set1_epi64(1)), _mm512_set1_epi64(2));
  const __m512d sign = _mm512_set1_pd(-0.0);
  const __m512d sv = _mm512_mask_blend_pd(odd, s, c), cv = _mm512_mask_blend_pd(odd, c, s);
  sin_x = _mm512_mask_xor_pd(sv, sin_neg, sv, sign);
  cos_x = _mm512_mask_xor_pd(cv, cos_neg, cv, sign);
}

}  // namespace

void rope_angles_avx512(float position, const float* inv_freq, int64_t half, double scale, double* cs, double* sn) {
  const __m512 p = _mm512_set1_ps(position);
  const __m512d sc = _mm512_set1_pd(scale);
  for (int64_t i = 0; i < half; i += 8) {
    const __mmask8 m = first8(half - i);
    // The angles in f32 (as the reference rounds them), then widened.
    const __m256 angle = _mm256_mul_ps(_mm512_castps512_ps256(p), _mm256_maskz_loadu_ps(m, inv_freq + i));
    const __m512d x = _mm512_cvtps_pd(angle);
    if (_mm512_cmp_pd_mask(_mm512_abs_pd(x), _mm512_set1_pd(kMaxAngle), _CMP_NLE_UQ) & m) {
      rope_angles_scalar(position, inv_freq + i, half - i < 8 ? half - i : 8, scale, cs + i, sn + i);
      continue;
    }
    __m512d s, c;
    sincos8d(x, s, c);
    _mm512_mask_storeu_pd(cs + i, m, _mm512_mul_pd(c, sc));
    _mm512_mask_storeu_pd(sn + i, m, _mm512_mul_pd(s, sc));
  }
}

void rope_rotate_avx512(float* row, const double* cs, const double* sn, int64_t half, bool interleaved) {
  if (!interleaved) {
    // Pairs (i, i + half): the two halves as vectors.
    for (int64_t i = 0; i < half; i += 8) {
      const __mmask8 m = first8(half - i);
      const __m512d x0 = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, row + i));
      const __m512d x1 = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, row + half + i));
      const __m512d c = _mm512_maskz_loadu_pd(m, cs + i), s = _mm512_maskz_loadu_pd(m, sn + i);
      _mm256_mask_storeu_ps(row + i, m, _mm512_cvtpd_ps(_mm512_sub_pd(_mm512_mul_pd(x0, c), _mm512_mul_pd(x1, s))));
      _mm256_mask_storeu_ps(row + half + i, m,
                            _mm512_cvtpd_ps(_mm512_add_pd(_mm512_mul_pd(x1, c), _mm512_mul_pd(x0, s))));
    }
    return;
  }
  // Pairs (2i, 2i + 1): 4 pairs per vector, each pair's cos and sin in both of its lanes; the partner of every
  // lane by a swap of neighbours. Even lanes: x_a · cs − x_c · sn; odd lanes: x_c · cs + x_a · sn.
  const __m512i dup = _mm512_set_epi64(3, 3, 2, 2, 1, 1, 0, 0);
  for (int64_t i = 0; i < half; i += 4) {
    const int64_t pairs = half - i >= 4 ? 4 : half - i;
    const __mmask8 m = static_cast<__mmask8>((1u << (2 * pairs)) - 1u);
    const __mmask8 mp = static_cast<__mmask8>((1u << pairs) - 1u);
    const __m512d x = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, row + 2 * i));
    const __m512d partner = _mm512_permute_pd(x, 0x55);
    const __m512d c = _mm512_permutexvar_pd(dup, _mm512_zextpd256_pd512(_mm256_maskz_loadu_pd(mp, cs + i)));
    const __m512d s = _mm512_permutexvar_pd(dup, _mm512_zextpd256_pd512(_mm256_maskz_loadu_pd(mp, sn + i)));
    const __m512d p = _mm512_mul_pd(x, c), q = _mm512_mul_pd(partner, s);
    _mm256_mask_storeu_ps(row + 2 * i, m, _mm512_cvtpd_ps(_mm512_mask_sub_pd(_mm512_add_pd(p, q), 0x55, p, q)));
  }
}

}  // namespace dsa

#pragma GCC pop_options
