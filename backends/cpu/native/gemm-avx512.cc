// AVX-512 GEMM kernels (16 f32 lanes, 32 registers). Weights are widened to f32 in registers:
// bf16 by a 16-bit shift, f16 by vcvtph2ps, f8_e4m3 by moving its bits into an f16 (value · 2^-8)
// then vcvtph2ps and one multiply by 256 · block scale. Nothing is dequantized to memory.
// Compiled for the avx512 target through the pragma below; callers check the CPU first.
// GCC 12 reports its own _mm512_undefined_* idiom as "may be used uninitialized".
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include "gemm.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")

namespace dsa {
namespace {

struct F32 {
  static constexpr int kBytes = 4;
  static constexpr bool kFp8 = false;
  static __m512 load(const uint8_t* p) { return _mm512_loadu_ps(reinterpret_cast<const float*>(p)); }
  static __m512 load(const uint8_t* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};
struct Bf16 {
  static constexpr int kBytes = 2;
  static constexpr bool kFp8 = false;
  static __m512 widen(__m256i v) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16)); }
  static __m512 load(const uint8_t* p) { return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static __m512 load(const uint8_t* p, __mmask16 m) { return widen(_mm256_maskz_loadu_epi16(m, p)); }
};
struct F16 {
  static constexpr int kBytes = 2;
  static constexpr bool kFp8 = false;
  static __m512 load(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static __m512 load(const uint8_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
};
// e4m3 bits s.eeee.mmm -> f16 bits s.0eeee.mmm0000000, an f16 worth value · 2^-8 (subnormals too):
// shift the byte to the top of a 16-bit lane, shift right arithmetically by one (the sign lands on
// bits 15 and 14) and clear bit 14. The NaN code 0x7f widens to 480 · 2^-8 (checkpoints hold no NaN).
struct Fp8 {
  static constexpr int kBytes = 1;
  static constexpr bool kFp8 = true;
  static __m512 widen(__m128i bytes) {
    __m256i w = _mm256_slli_epi16(_mm256_cvtepu8_epi16(bytes), 8);
    return _mm512_cvtph_ps(_mm256_and_si256(_mm256_srai_epi16(w, 1), _mm256_set1_epi16(static_cast<short>(0xbfff))));
  }
  static __m512 load(const uint8_t* p) { return widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static __m512 load(const uint8_t* p, __mmask16 m) { return widen(_mm_maskz_loadu_epi8(m, p)); }
  // 32 values at once: the integer steps run on 32 lanes.
  static void widen32(__m256i bytes, __m512& lo, __m512& hi) {
    __m512i w = _mm512_slli_epi16(_mm512_cvtepu8_epi16(bytes), 8);
    __m512i h = _mm512_and_si512(_mm512_srai_epi16(w, 1), _mm512_set1_epi16(static_cast<short>(0xbfff)));
    lo = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
    hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
  }
};

inline __mmask16 tail_mask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

// One MR x NR tile of the dot form: acc[i][j] = Σ_k x[m0 + i, k] · W(n0 + j, k).
template <int MR, int NR, class L, bool Scaled>
void dot_tile(const DotGemm& g, int64_t m0, int64_t n0) {
  __m512 acc[MR][NR];
#pragma GCC unroll 4
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
  const uint8_t* w[NR];
  for (int j = 0; j < NR; j++) w[j] = g.w[n0 + j];
  const float* x[MR];
  for (int i = 0; i < MR; i++) x[i] = g.x + (m0 + i) * g.ldx;
  const int64_t K = g.K;
  const int64_t segment = (Scaled && g.wscale != nullptr) ? g.bk : K;
  for (int64_t k0 = 0; k0 < K; k0 += segment) {
    const int64_t k1 = k0 + segment < K ? k0 + segment : K;
    __m512 c[NR];
    if (Scaled) {
      for (int j = 0; j < NR; j++) {
        float s = g.wscale != nullptr ? g.wscale[n0 + j][k0 / g.bk] : 1.0f;
        c[j] = _mm512_set1_ps(L::kFp8 ? s * 256.0f : s);
      }
    }
    int64_t k = k0;
    for (; k + 16 <= k1; k += 16) {
      __m512 wv[NR];
#pragma GCC unroll 4
      for (int j = 0; j < NR; j++) {
        wv[j] = L::load(w[j] + k * L::kBytes);
        if (Scaled) wv[j] = _mm512_mul_ps(wv[j], c[j]);
      }
#pragma GCC unroll 4
      for (int i = 0; i < MR; i++) {
        __m512 xv = _mm512_loadu_ps(x[i] + k);
#pragma GCC unroll 4
        for (int j = 0; j < NR; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
      }
    }
    if (k < k1) {
      __mmask16 m = tail_mask(k1 - k);
      __m512 wv[NR];
      for (int j = 0; j < NR; j++) {
        wv[j] = L::load(w[j] + k * L::kBytes, m);
        if (Scaled) wv[j] = _mm512_mul_ps(wv[j], c[j]);
      }
      for (int i = 0; i < MR; i++) {
        __m512 xv = _mm512_maskz_loadu_ps(m, x[i] + k);
        for (int j = 0; j < NR; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
      }
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) g.out[(m0 + i) * g.ldo + n0 + j] = g.alpha * _mm512_reduce_add_ps(acc[i][j]);
}

// f8_e4m3 tile for few rows of x: within a scale block the raw widened weights are accumulated,
// and the block's scale (· 256) is applied once per block to the accumulators.
template <int MR, int NR>
void dot_tile_fp8(const DotGemm& g, int64_t m0, int64_t n0) {
  __m512 total[MR][NR], part[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) total[i][j] = _mm512_setzero_ps();
  const uint8_t* w[NR];
  for (int j = 0; j < NR; j++) w[j] = g.w[n0 + j];
  const float* x[MR];
  for (int i = 0; i < MR; i++) x[i] = g.x + (m0 + i) * g.ldx;
  const int64_t K = g.K;
  const int64_t segment = g.wscale != nullptr ? g.bk : K;
  for (int64_t k0 = 0; k0 < K; k0 += segment) {
    const int64_t k1 = k0 + segment < K ? k0 + segment : K;
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
      for (int j = 0; j < NR; j++) part[i][j] = _mm512_setzero_ps();
    int64_t k = k0;
    for (; k + 32 <= k1; k += 32) {
      __m512 lo[NR], hi[NR];
#pragma GCC unroll 4
      for (int j = 0; j < NR; j++) Fp8::widen32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[j] + k)), lo[j], hi[j]);
#pragma GCC unroll 4
      for (int i = 0; i < MR; i++) {
        __m512 x0 = _mm512_loadu_ps(x[i] + k), x1 = _mm512_loadu_ps(x[i] + k + 16);
#pragma GCC unroll 4
        for (int j = 0; j < NR; j++) part[i][j] = _mm512_fmadd_ps(x1, hi[j], _mm512_fmadd_ps(x0, lo[j], part[i][j]));
      }
    }
    for (; k < k1; k += 16) {
      const int64_t rest = k1 - k < 16 ? k1 - k : 16;
      __mmask16 m = tail_mask(rest);
      __m512 wv[NR];
      for (int j = 0; j < NR; j++) wv[j] = Fp8::load(w[j] + k, m);
      for (int i = 0; i < MR; i++) {
        __m512 xv = _mm512_maskz_loadu_ps(m, x[i] + k);
        for (int j = 0; j < NR; j++) part[i][j] = _mm512_fmadd_ps(xv, wv[j], part[i][j]);
      }
    }
    for (int j = 0; j < NR; j++) {
      float s = g.wscale != nullptr ? g.wscale[n0 + j][k0 / g.bk] : 1.0f;
      __m512 c = _mm512_set1_ps(s * 256.0f);
      for (int i = 0; i < MR; i++) total[i][j] = _mm512_fmadd_ps(part[i][j], c, total[i][j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) g.out[(m0 + i) * g.ldo + n0 + j] = g.alpha * _mm512_reduce_add_ps(total[i][j]);
}

template <int NR, class L, bool Scaled>
void dot_rows(const DotGemm& g, int64_t m0, int64_t m1, int64_t n) {
  int64_t m = m0;
  for (; m + 4 <= m1; m += 4) dot_tile<4, NR, L, Scaled>(g, m, n);
  if (L::kFp8) {
    for (; m + 2 <= m1; m += 2) dot_tile_fp8<2, NR>(g, m, n);
    if (m < m1) dot_tile_fp8<1, NR>(g, m, n);
    return;
  }
  switch (m1 - m) {
    case 3:
      dot_tile<3, NR, L, Scaled>(g, m, n);
      break;
    case 2:
      dot_tile<2, NR, L, Scaled>(g, m, n);
      break;
    case 1:
      dot_tile<1, NR, L, Scaled>(g, m, n);
      break;
    default:
      break;
  }
}

template <class L, bool Scaled>
void dot_driver(const DotGemm& g, int64_t n0, int64_t n1) {
  // Blocks of 32 rows of x stay in L2 while the weight tiles stream past them.
  constexpr int64_t kRowBlock = 32;
  for (int64_t mb = 0; mb < g.M; mb += kRowBlock) {
    int64_t me = mb + kRowBlock < g.M ? mb + kRowBlock : g.M;
    int64_t n = n0;
    for (; n + 4 <= n1; n += 4) dot_rows<4, L, Scaled>(g, mb, me, n);
    for (; n < n1; n++) dot_rows<1, L, Scaled>(g, mb, me, n);
  }
}

void dot_avx512(const DotGemm& g, int64_t n0, int64_t n1) {
  bool scaled = g.wscale != nullptr;
  if (scaled && g.bk % 16 != 0 && g.bk < g.K) {
    gemm_portable().dot(g, n0, n1);
    return;
  }
  switch (g.wdtype) {
    case DType::f32:
      return scaled ? dot_driver<F32, true>(g, n0, n1) : dot_driver<F32, false>(g, n0, n1);
    case DType::bf16:
      return scaled ? dot_driver<Bf16, true>(g, n0, n1) : dot_driver<Bf16, false>(g, n0, n1);
    case DType::f16:
      return scaled ? dot_driver<F16, true>(g, n0, n1) : dot_driver<F16, false>(g, n0, n1);
    case DType::f8_e4m3:
      return dot_driver<Fp8, true>(g, n0, n1);
    default:
      gemm_portable().dot(g, n0, n1);
  }
}

// One MR x (16·NV) tile of the axpy form; the last vector is masked with `last`.
template <int MR, int NV, class L>
void axpy_tile(const AxpyGemm& g, int64_t m0, int64_t n, __mmask16 last) {
  __m512 acc[MR][NV];
#pragma GCC unroll 4
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
  const float* a[MR];
  for (int i = 0; i < MR; i++) a[i] = g.a + (m0 + i) * g.lda;
  const bool full = last == static_cast<__mmask16>(0xffff);
  for (int64_t k = 0; k < g.K; k++) {
    const uint8_t* row = g.b[k] + n * L::kBytes;
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++)
      bv[v] = (v == NV - 1 && !full) ? L::load(row + v * 16 * L::kBytes, last) : L::load(row + v * 16 * L::kBytes);
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
      __m512 av = _mm512_set1_ps(a[i][k]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
    }
  }
  __m512 alpha = _mm512_set1_ps(g.alpha);
  for (int i = 0; i < MR; i++) {
    float* o = g.out + (m0 + i) * g.ldo + n;
    for (int v = 0; v < NV; v++) {
      __m512 r = _mm512_mul_ps(acc[i][v], alpha);
      if (v == NV - 1 && !full)
        _mm512_mask_storeu_ps(o + v * 16, last, r);
      else
        _mm512_storeu_ps(o + v * 16, r);
    }
  }
}

template <int NV, class L>
void axpy_rows(const AxpyGemm& g, int64_t n, __mmask16 last) {
  int64_t m = 0;
  for (; m + 4 <= g.M; m += 4) axpy_tile<4, NV, L>(g, m, n, last);
  switch (g.M - m) {
    case 3:
      axpy_tile<3, NV, L>(g, m, n, last);
      break;
    case 2:
      axpy_tile<2, NV, L>(g, m, n, last);
      break;
    case 1:
      axpy_tile<1, NV, L>(g, m, n, last);
      break;
    default:
      break;
  }
}

template <class L>
void axpy_driver(const AxpyGemm& g, int64_t n0, int64_t n1) {
  int64_t n = n0;
  const __mmask16 full = 0xffff;
  for (; n + 64 <= n1; n += 64) axpy_rows<4, L>(g, n, full);
  int64_t rest = n1 - n;
  if (rest <= 0) return;
  int64_t vectors = (rest + 15) / 16;
  __mmask16 last = tail_mask(rest - (vectors - 1) * 16);
  if (rest % 16 == 0) last = full;
  switch (vectors) {
    case 4:
      axpy_rows<4, L>(g, n, last);
      break;
    case 3:
      axpy_rows<3, L>(g, n, last);
      break;
    case 2:
      axpy_rows<2, L>(g, n, last);
      break;
    default:
      axpy_rows<1, L>(g, n, last);
      break;
  }
}

void axpy_avx512(const AxpyGemm& g, int64_t n0, int64_t n1) {
  switch (g.bdtype) {
    case DType::f32:
      return axpy_driver<F32>(g, n0, n1);
    case DType::bf16:
      return axpy_driver<Bf16>(g, n0, n1);
    case DType::f16:
      return axpy_driver<F16>(g, n0, n1);
    default:
      gemm_portable().axpy(g, n0, n1);
  }
}

}  // namespace
}  // namespace dsa

#pragma GCC pop_options

namespace dsa {
const GemmKernels& gemm_avx512() {
  static const GemmKernels kernels{"avx512", dot_avx512, axpy_avx512};
  return kernels;
}
}  // namespace dsa
