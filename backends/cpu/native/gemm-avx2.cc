// AVX2 + FMA + F16C GEMM kernels (8 f32 lanes, 16 registers): the same scheme as gemm-avx512.cc
// (weights widened to f32 in registers, f8_e4m3 through f16), with K tails run on zero-padded
// copies and N tails of the axpy form on the portable kernel.
#include <immintrin.h>

#include "gemm.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace dsa {
namespace {

struct F32 {
  static constexpr int kBytes = 4;
  static constexpr bool kFp8 = false;
  static __m256 load(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
};
struct Bf16 {
  static constexpr int kBytes = 2;
  static constexpr bool kFp8 = false;
  static __m256 load(const uint8_t* p) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
  }
};
struct F16 {
  static constexpr int kBytes = 2;
  static constexpr bool kFp8 = false;
  static __m256 load(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
};
// i8 (GGUF Q8_0 quants, block-scaled): sign-extended to 32 bits and converted, exact.
struct I8 {
  static constexpr int kBytes = 1;
  static constexpr bool kFp8 = false;
  static __m256 load(const uint8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
};
// e4m3 -> f16 bits worth value · 2^-8 (see gemm-avx512.cc): the byte at the top of a 16-bit lane,
// an arithmetic shift right by one, bit 14 cleared.
struct Fp8 {
  static constexpr int kBytes = 1;
  static constexpr bool kFp8 = true;
  static __m256 load(const uint8_t* p) {
    __m128i w = _mm_slli_epi16(_mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))), 8);
    return _mm256_cvtph_ps(_mm_and_si128(_mm_srai_epi16(w, 1), _mm_set1_epi16(static_cast<short>(0xbfff))));
  }
  // 16 values at once: the integer steps run on 16 lanes.
  static void load16(const uint8_t* p, __m256& lo, __m256& hi) {
    __m256i w = _mm256_slli_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 8);
    __m256i h = _mm256_and_si256(_mm256_srai_epi16(w, 1), _mm256_set1_epi16(static_cast<short>(0xbfff)));
    lo = _mm256_cvtph_ps(_mm256_castsi256_si128(h));
    hi = _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1));
  }
};

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int MR, int NR, class L, bool Scaled>
void dot_tile(const DotGemm& g, int64_t m0, int64_t n0) {
  __m256 acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_ps();
  const uint8_t* w[NR];
  for (int j = 0; j < NR; j++) w[j] = g.w[n0 + j];
  const float* x[MR];
  for (int i = 0; i < MR; i++) x[i] = g.x + (m0 + i) * g.ldx;
  const int64_t K = g.K;
  const int64_t segment = (Scaled && g.wscale != nullptr) ? g.bk : K;
  for (int64_t k0 = 0; k0 < K; k0 += segment) {
    const int64_t k1 = k0 + segment < K ? k0 + segment : K;
    __m256 c[NR];
    if (Scaled) {
      for (int j = 0; j < NR; j++) {
        float s = g.wscale != nullptr ? g.wscale[n0 + j][k0 / g.bk] : 1.0f;
        c[j] = _mm256_set1_ps(L::kFp8 ? s * 256.0f : s);
      }
    }
    int64_t k = k0;
    for (; k + 8 <= k1; k += 8) {
      __m256 wv[NR];
#pragma GCC unroll 4
      for (int j = 0; j < NR; j++) {
        wv[j] = L::load(w[j] + k * L::kBytes);
        if (Scaled) wv[j] = _mm256_mul_ps(wv[j], c[j]);
      }
#pragma GCC unroll 4
      for (int i = 0; i < MR; i++) {
        __m256 xv = _mm256_loadu_ps(x[i] + k);
#pragma GCC unroll 4
        for (int j = 0; j < NR; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
      }
    }
    if (k < k1) {
      // Zero-padded copies of the last partial vector.
      const int64_t rest = k1 - k;
      alignas(32) uint8_t wpad[NR][32];
      alignas(32) float xpad[MR][8];
      __builtin_memset(wpad, 0, sizeof(wpad));
      __builtin_memset(xpad, 0, sizeof(xpad));
      __m256 wv[NR];
      for (int j = 0; j < NR; j++) {
        __builtin_memcpy(wpad[j], w[j] + k * L::kBytes, rest * L::kBytes);
        wv[j] = L::load(wpad[j]);
        if (Scaled) wv[j] = _mm256_mul_ps(wv[j], c[j]);
      }
      for (int i = 0; i < MR; i++) {
        __builtin_memcpy(xpad[i], x[i] + k, rest * 4);
        __m256 xv = _mm256_load_ps(xpad[i]);
        for (int j = 0; j < NR; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
      }
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) g.out[(m0 + i) * g.ldo + n0 + j] = g.alpha * hsum(acc[i][j]);
}

// f8_e4m3 tile for one or two rows of x: raw widened weights are accumulated within a scale block
// and the block's scale (· 256) is applied once per block.
template <int MR, int NR>
void dot_tile_fp8(const DotGemm& g, int64_t m0, int64_t n0) {
  __m256 total[MR][NR], part[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) total[i][j] = _mm256_setzero_ps();
  const uint8_t* w[NR];
  for (int j = 0; j < NR; j++) w[j] = g.w[n0 + j];
  const float* x[MR];
  for (int i = 0; i < MR; i++) x[i] = g.x + (m0 + i) * g.ldx;
  const int64_t K = g.K;
  const int64_t segment = g.wscale != nullptr ? g.bk : K;
  for (int64_t k0 = 0; k0 < K; k0 += segment) {
    const int64_t k1 = k0 + segment < K ? k0 + segment : K;
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) part[i][j] = _mm256_setzero_ps();
    int64_t k = k0;
    for (; k + 16 <= k1; k += 16) {
      __m256 lo[NR], hi[NR];
#pragma GCC unroll 4
      for (int j = 0; j < NR; j++) Fp8::load16(w[j] + k, lo[j], hi[j]);
#pragma GCC unroll 2
      for (int i = 0; i < MR; i++) {
        __m256 x0 = _mm256_loadu_ps(x[i] + k), x1 = _mm256_loadu_ps(x[i] + k + 8);
#pragma GCC unroll 4
        for (int j = 0; j < NR; j++) part[i][j] = _mm256_fmadd_ps(x1, hi[j], _mm256_fmadd_ps(x0, lo[j], part[i][j]));
      }
    }
    for (; k < k1; k += 8) {
      const int64_t rest = k1 - k < 8 ? k1 - k : 8;
      alignas(32) uint8_t wpad[NR][8];
      alignas(32) float xpad[MR][8];
      __builtin_memset(wpad, 0, sizeof(wpad));
      __builtin_memset(xpad, 0, sizeof(xpad));
      __m256 wv[NR];
      for (int j = 0; j < NR; j++) {
        __builtin_memcpy(wpad[j], w[j] + k, rest);
        wv[j] = Fp8::load(wpad[j]);
      }
      for (int i = 0; i < MR; i++) {
        __builtin_memcpy(xpad[i], x[i] + k, rest * 4);
        __m256 xv = _mm256_load_ps(xpad[i]);
        for (int j = 0; j < NR; j++) part[i][j] = _mm256_fmadd_ps(xv, wv[j], part[i][j]);
      }
    }
    for (int j = 0; j < NR; j++) {
      float s = g.wscale != nullptr ? g.wscale[n0 + j][k0 / g.bk] : 1.0f;
      __m256 c = _mm256_set1_ps(s * 256.0f);
      for (int i = 0; i < MR; i++) total[i][j] = _mm256_fmadd_ps(part[i][j], c, total[i][j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) g.out[(m0 + i) * g.ldo + n0 + j] = g.alpha * hsum(total[i][j]);
}

template <int NR, class L, bool Scaled>
void dot_rows(const DotGemm& g, int64_t m0, int64_t m1, int64_t n) {
  int64_t m = m0;
  if (L::kFp8) {
    // Per-block accumulation, the scale applied once per block, for every M: one arithmetic for
    // every row count keeps a row's result independent of the batch.
    for (; m + 2 <= m1; m += 2) dot_tile_fp8<2, NR>(g, m, n);
    if (m < m1) dot_tile_fp8<1, NR>(g, m, n);
    return;
  }
  for (; m + 2 <= m1; m += 2) dot_tile<2, NR, L, Scaled>(g, m, n);
  if (m < m1) dot_tile<1, NR, L, Scaled>(g, m, n);
}

template <class L, bool Scaled>
void dot_driver(const DotGemm& g, int64_t n0, int64_t n1) {
  constexpr int64_t kRowBlock = 32;
  for (int64_t mb = 0; mb < g.M; mb += kRowBlock) {
    int64_t me = mb + kRowBlock < g.M ? mb + kRowBlock : g.M;
    int64_t n = n0;
    for (; n + 4 <= n1; n += 4) dot_rows<4, L, Scaled>(g, mb, me, n);
    for (; n < n1; n++) dot_rows<1, L, Scaled>(g, mb, me, n);
  }
}

void dot_avx2(const DotGemm& g, int64_t n0, int64_t n1) {
  bool scaled = g.wscale != nullptr;
  if (scaled && g.bk % 8 != 0 && g.bk < g.K) {
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
    case DType::i8:
      if (!scaled) break;
      return dot_driver<I8, true>(g, n0, n1);
    default:
      break;
  }
  gemm_portable().dot(g, n0, n1);
}

template <int MR, class L>
void axpy_tile(const AxpyGemm& g, int64_t m0, int64_t n) {
  __m256 acc[MR][2];
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  const float* a[MR];
  for (int i = 0; i < MR; i++) a[i] = g.a + (m0 + i) * g.lda;
  for (int64_t k = 0; k < g.K; k++) {
    const uint8_t* row = g.b[k] + n * L::kBytes;
    __m256 b0 = L::load(row);
    __m256 b1 = L::load(row + 8 * L::kBytes);
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
      __m256 av = _mm256_broadcast_ss(a[i] + k);
      acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
    }
  }
  // Fp8 loads widen to value · 2^-8: the 256 goes into alpha (exact).
  __m256 alpha = _mm256_set1_ps(L::kFp8 ? g.alpha * 256.0f : g.alpha);
  for (int i = 0; i < MR; i++) {
    float* o = g.out + (m0 + i) * g.ldo + n;
    _mm256_storeu_ps(o, _mm256_mul_ps(acc[i][0], alpha));
    _mm256_storeu_ps(o + 8, _mm256_mul_ps(acc[i][1], alpha));
  }
}

template <class L>
void axpy_driver(const AxpyGemm& g, int64_t n0, int64_t n1) {
  int64_t n = n0;
  for (; n + 16 <= n1; n += 16) {
    int64_t m = 0;
    for (; m + 4 <= g.M; m += 4) axpy_tile<4, L>(g, m, n);
    switch (g.M - m) {
      case 3:
        axpy_tile<3, L>(g, m, n);
        break;
      case 2:
        axpy_tile<2, L>(g, m, n);
        break;
      case 1:
        axpy_tile<1, L>(g, m, n);
        break;
      default:
        break;
    }
  }
  if (n < n1) gemm_portable().axpy(g, n, n1);
}

void axpy_avx2(const AxpyGemm& g, int64_t n0, int64_t n1) {
  switch (g.bdtype) {
    case DType::f32:
      return axpy_driver<F32>(g, n0, n1);
    case DType::bf16:
      return axpy_driver<Bf16>(g, n0, n1);
    case DType::f16:
      return axpy_driver<F16>(g, n0, n1);
    case DType::f8_e4m3:
      return axpy_driver<Fp8>(g, n0, n1);
    default:
      gemm_portable().axpy(g, n0, n1);
  }
}

}  // namespace
}  // namespace dsa

#pragma GCC pop_options

namespace dsa {
const GemmKernels& gemm_avx2() {
  static const GemmKernels kernels{"avx2", dot_avx2, axpy_avx2};
  return kernels;
}
}  // namespace dsa
