// Lightning-indexer scores on AVX-512 (see indexer-avx512.h). The heads are folded into the vector
// lanes: lane l of vector g holds head g·(16/J) + l/J and key element d'·J + l % J, so one pass over a
// key is Di/J broadcasts of J key values, each multiplied into all G = Hi·J/16 query vectors (q is
// packed once per call). The J partial sums of a head are folded by lane swaps, ReLU'd, weighted and
// summed over the lanes: the lane sums of 16 keys are reduced together by a transpose tree. f8_e4m3
// keys are decoded 64 at a time by table lookup (fp8-avx512.h), exactly; q's elements are permuted to
// the decoder's order instead of the keys.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "indexer-avx512.h"

#include <immintrin.h>

#include <cstring>
#include <vector>

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")
#include "fp8-avx512.h"
#include "reduce16-avx512.h"

namespace dsa {
namespace {

template <int J>
inline __m512 broadcast(const float* p) {
  if (J == 1) return _mm512_set1_ps(*p);
  if (J == 2) {
    double d;
    std::memcpy(&d, p, sizeof d);
    return _mm512_castpd_ps(_mm512_set1_pd(d));
  }
  if (J == 4) return _mm512_broadcast_f32x4(_mm_loadu_ps(p));
  if (J == 8) return _mm512_broadcast_f32x8(_mm256_loadu_ps(p));
  return _mm512_loadu_ps(p);
}

// Adds the J lanes of each head together (every lane of the group ends up with the group's sum).
template <int J>
inline __m512 fold(__m512 s) {
  if (J >= 2) s = _mm512_add_ps(s, _mm512_permute_ps(s, 0xb1));
  if (J >= 4) s = _mm512_add_ps(s, _mm512_permute_ps(s, 0x4e));
  if (J >= 8) s = _mm512_add_ps(s, _mm512_shuffle_f32x4(s, s, 0xb1));
  if (J >= 16) s = _mm512_add_ps(s, _mm512_shuffle_f32x4(s, s, 0x4e));
  return s;
}

template <int J, int G, bool Fp8>
void scores(const float* qp, const float* wp, int64_t Di, const uint8_t* const* rows, const float* const* scales,
            int64_t n, float* score) {
  static const Fp8Table table;
  const int64_t steps = Di / J;
  // f8_e4m3: the 16 keys of a block are decoded up front (keeps the stores away from their loads).
  std::vector<float> decoded(Fp8 ? static_cast<size_t>(16 * Di) : 0);
  const __m512 zero = _mm512_setzero_ps();
  __m512 wv[G];
  for (int g = 0; g < G; g++) wv[g] = _mm512_loadu_ps(wp + g * 16);
  for (int64_t t0 = 0; t0 < n; t0 += 16) {
    const int64_t count = n - t0 < 16 ? n - t0 : 16;
    __m512 lanes[16];
    if (Fp8)
      for (int64_t i = 0; i < count; i++) {
        for (int64_t b = 0; b < Di; b += 64) {
          __m512 f[4];
          fp8_widen64(table, rows[t0 + i] + b, f);
          for (int v = 0; v < 4; v++) _mm512_storeu_ps(decoded.data() + i * Di + b + 16 * v, f[v]);
        }
      }
    // KB keys at a time share each load of q and keep KB independent accumulator chains in flight
    // (each key's chain is still the same sequence of fmadds over d).
    constexpr int KB = G == 1 ? 8 : G == 2 ? 4 : 2;
    for (int64_t i = 0; i < 16; i += KB) {
      if (i >= count) {
        for (int e = 0; e < KB; e++) lanes[i + e] = zero;
        continue;
      }
      const float* kp[KB];
      for (int e = 0; e < KB; e++) {
        const int64_t j = i + e < count ? i + e : i;  // missing keys repeat key i; their lanes are zeroed
        kp[e] = Fp8 ? decoded.data() + j * Di : reinterpret_cast<const float*>(rows[t0 + j]);
      }
      if (!Fp8)
        for (int e = 0; e < KB; e++)
          if (t0 + i + KB + e < n) _mm_prefetch(reinterpret_cast<const char*>(rows[t0 + i + KB + e]), _MM_HINT_T0);
      __m512 acc[KB][G];
#pragma GCC unroll 8
      for (int e = 0; e < KB; e++)
#pragma GCC unroll 8
        for (int g = 0; g < G; g++) acc[e][g] = zero;
      const float* qv = qp;
      for (int64_t d = 0; d < steps; d++, qv += 16 * G) {
        __m512 b[KB];
#pragma GCC unroll 8
        for (int e = 0; e < KB; e++) b[e] = broadcast<J>(kp[e] + d * J);
#pragma GCC unroll 8
        for (int g = 0; g < G; g++) {
          const __m512 qg = _mm512_loadu_ps(qv + 16 * g);
#pragma GCC unroll 8
          for (int e = 0; e < KB; e++) acc[e][g] = _mm512_fmadd_ps(qg, b[e], acc[e][g]);
        }
      }
      for (int e = 0; e < KB; e++) {
        if (i + e >= count) {
          lanes[i + e] = zero;
          continue;
        }
        const __m512 s = _mm512_set1_ps(scales != nullptr ? *scales[t0 + i + e] : 1.0f);
        __m512 total = _mm512_mul_ps(wv[0], _mm512_max_ps(_mm512_mul_ps(fold<J>(acc[e][0]), s), zero));
        for (int g = 1; g < G; g++)
          total = _mm512_fmadd_ps(wv[g], _mm512_max_ps(_mm512_mul_ps(fold<J>(acc[e][g]), s), zero), total);
        lanes[i + e] = total;
      }
    }
    const __m512 r = reduce16(lanes);
    if (count == 16)
      _mm512_storeu_ps(score + t0, r);
    else
      _mm512_mask_storeu_ps(score + t0, static_cast<__mmask16>((1u << count) - 1u), r);
  }
}

template <int J, int G>
void run(bool fp8, const float* qp, const float* wp, int64_t Di, const uint8_t* const* rows,
         const float* const* scales, int64_t n, float* score) {
  if (fp8)
    scores<J, G, true>(qp, wp, Di, rows, scales, n, score);
  else
    scores<J, G, false>(qp, wp, Di, rows, scales, n, score);
}

}  // namespace

bool indexer_scores_avx512(const float* q, const float* w, int64_t Hi, int64_t Di, const uint8_t* const* rows,
                           DType dtype, const float* const* scales, int64_t n, float* score) {
  const bool fp8 = dtype == DType::f8_e4m3;
  if (!fp8 && dtype != DType::f32) return false;
  if (Hi < 1 || Di < 16 || Di % (fp8 ? 64 : 16) != 0) return false;
  int J, G;
  if (Hi <= 16 && 16 % Hi == 0) {
    J = static_cast<int>(16 / Hi);
    G = 1;
  } else if (Hi % 16 == 0 && Hi <= 128) {
    J = 1;
    G = static_cast<int>(Hi / 16);
  } else {
    return false;
  }
  // Key element at position p of the (decoded) key: identity for f32, the decoder's order for fp8.
  auto element = [fp8](int64_t p) -> int64_t { return fp8 ? (p / 64) * 64 + fp8_widen64_element(static_cast<int>((p % 64) / 16), static_cast<int>(p % 16)) : p; };
  // qp[d'][g][l] = q[head(g, l)][element(d'·J + l % J)];  wp[g][l] = w[head] on the first lane of a head.
  const int64_t steps = Di / J, heads_per_vector = 16 / J;
  std::vector<float> qp(static_cast<size_t>(steps * G * 16)), wp(static_cast<size_t>(G * 16));
  for (int64_t d = 0; d < steps; d++)
    for (int g = 0; g < G; g++)
      for (int l = 0; l < 16; l++) {
        const int64_t h = g * heads_per_vector + l / J;
        qp[(d * G + g) * 16 + l] = q[h * Di + element(d * J + l % J)];
      }
  for (int g = 0; g < G; g++)
    for (int l = 0; l < 16; l++) wp[g * 16 + l] = l % J == 0 ? w[g * heads_per_vector + l / J] : 0.0f;
  const float* a = qp.data();
  const float* b = wp.data();
  switch (J * 16 + G) {
    case 16 * 16 + 1: run<16, 1>(fp8, a, b, Di, rows, scales, n, score); return true;
    case 8 * 16 + 1: run<8, 1>(fp8, a, b, Di, rows, scales, n, score); return true;
    case 4 * 16 + 1: run<4, 1>(fp8, a, b, Di, rows, scales, n, score); return true;
    case 2 * 16 + 1: run<2, 1>(fp8, a, b, Di, rows, scales, n, score); return true;
    case 1 * 16 + 1: run<1, 1>(fp8, a, b, Di, rows, scales, n, score); return true;
    case 1 * 16 + 2: run<1, 2>(fp8, a, b, Di, rows, scales, n, score); return true;
    case 1 * 16 + 3: run<1, 3>(fp8, a, b, Di, rows, scales, n, score); return true;
    case 1 * 16 + 4: run<1, 4>(fp8, a, b, Di, rows, scales, n, score); return true;
    case 1 * 16 + 8: run<1, 8>(fp8, a, b, Di, rows, scales, n, score); return true;
    default: return false;
  }
}

}  // namespace dsa

#pragma GCC pop_options
