// AVX2 + FMA + F16C GEMM kernels (8 f32 lanes, 16 registers): the same scheme as gemm-avx512.cc
// (weights widened to f32 in registers, f8_e4m3 through f16), with K tails run on zero-padded
// copies and N tails of the axpy form on the portable kernel.
#include <immintrin.h>

#include "gemm.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

#include "gemm-tiles.h"

namespace dsa {
namespace {

// 8 f32 lanes, 16 registers: tiles of up to 2 rows of x; no masks, so K tails run on zero-padded copies.
struct Avx2 {
  using Vec = __m256;
  static constexpr int kLanes = 8;
  static constexpr bool kMasked = false;
  static constexpr int kTileRows = 2;
  static constexpr int kAxpyVectors = 2;
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec set1(float s) { return _mm256_set1_ps(s); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static float hsum(Vec v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  template <int MR, int NR>
  static void store_tile(const Vec (&acc)[MR][NR], float alpha, float* out, int64_t ldo, int64_t m0, int64_t n0) {
    store_sums<Avx2, MR, NR>(acc, alpha, out, ldo, m0, n0);
  }
};

struct F32 : Avx2 {
  static constexpr int kBytes = 4;
  static constexpr bool kFp8 = false;
  static __m256 load(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
};
struct Bf16 : Avx2 {
  static constexpr int kBytes = 2;
  static constexpr bool kFp8 = false;
  static __m256 load(const uint8_t* p) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
  }
};
struct F16 : Avx2 {
  static constexpr int kBytes = 2;
  static constexpr bool kFp8 = false;
  static __m256 load(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
};
// i8 (GGUF Q8_0 quants, block-scaled): sign-extended to 32 bits and converted, exact.
struct I8 : Avx2 {
  static constexpr int kBytes = 1;
  static constexpr bool kFp8 = false;
  static __m256 load(const uint8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
};
// e4m3 -> f16 bits worth value · 2^-8 (see gemm-avx512.cc): the byte at the top of a 16-bit lane,
// an arithmetic shift right by one, bit 14 cleared.
struct Fp8 : Avx2 {
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

// f8_e4m3 tile for one or two rows of x: raw widened weights are accumulated within a scale block
// and the block's scale (· 256) is applied once per block.
template <int MR, int NR>
[[gnu::noinline]] void dot_tile_fp8(const DotGemm& g, int64_t m0, int64_t n0) {
  __m256 total[MR][NR], part[MR][NR];
  zero_tile<Avx2>(total);
  const float* x[MR];
  const uint8_t* w[NR];
  dot_operands(g, m0, n0, x, w);
  const int64_t K = g.K;
  const int64_t segment = g.wscale != nullptr ? g.bk : K;
  for (int64_t k0 = 0; k0 < K; k0 += segment) {
    const int64_t k1 = k0 + segment < K ? k0 + segment : K;
    zero_tile<Avx2>(part);
    int64_t k = k0;
    for (; k + 16 <= k1; k += 16) {
      __m256 lo[NR], hi[NR];
#pragma GCC unroll 4
      for (int j = 0; j < NR; j++) Fp8::load16(w[j] + k, lo[j], hi[j]);
      fma_two<Avx2>(part, x, k, lo, hi);
    }
    for (; k < k1; k += 8) {
      const int64_t rest = k1 - k < 8 ? k1 - k : 8;
      __m256 wv[NR];
      for (int j = 0; j < NR; j++) wv[j] = load_part<Fp8>(w[j] + k, rest);
      fma_part<Fp8>(part, x, k, rest, wv);
    }
    for (int j = 0; j < NR; j++) {
      float s = g.wscale != nullptr ? g.wscale[n0 + j][k0 / g.bk] : 1.0f;
      __m256 c = _mm256_set1_ps(s * 256.0f);
      for (int i = 0; i < MR; i++) total[i][j] = _mm256_fmadd_ps(part[i][j], c, total[i][j]);
    }
  }
  Avx2::store_tile<MR, NR>(total, g.alpha, g.out, g.ldo, m0, n0);
}

// Per-block accumulation, the scale applied once per block, for every M: one arithmetic for every
// row count keeps a row's result independent of the batch.
void dot_driver_fp8(const DotGemm& g, int64_t n0, int64_t n1) {
  row_blocks(g.M, [&](int64_t mb, int64_t me) {
    col_tiles(false, n0, n1, [&](auto nr, int64_t n) {
      row_tiles<2>(mb, me, [&](auto mr, int64_t m) { dot_tile_fp8<mr, nr>(g, m, n); });
    });
  });
}

}  // namespace
}  // namespace dsa

#pragma GCC pop_options

namespace dsa {
const GemmKernels& gemm_avx2() {
  static const GemmKernels kernels{"avx2", dot_by_dtype<F32, Bf16, F16, I8, dot_driver<Bf16>, dot_driver_fp8>,
                                          axpy_by_dtype<F32, Bf16, F16, Fp8>};
  return kernels;
}
}  // namespace dsa
