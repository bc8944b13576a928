// AVX-512-BF16 dot kernel (the opt-in `bf16` precision): x is rounded to bf16 once per call
// (vcvtneps2bf16, round to nearest even) and multiplied with bf16 weights by vdpbf16ps, which
// accumulates pairs of bf16 products into f32 lanes. Every output element sums the same 32-element
// chunks of K in the same order into its own accumulator, then one horizontal add: the result of a
// row does not depend on M, on the tile it falls in, or on the thread split.
// Compiled for the avx512bf16 target through the pragma below; callers check the CPU first.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include "gemm.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")

namespace dsa {
namespace {

inline __m512bh load_bh(const uint16_t* p) { return (__m512bh)_mm512_loadu_si512(p); }
inline __m512bh load_bh(const uint16_t* p, __mmask32 m) { return (__m512bh)_mm512_maskz_loadu_epi16(m, p); }

// One MR x NR tile: acc[i][j] = Σ_k bf16(x[m0 + i, k]) · w[n0 + j][k], 32 k per vdpbf16ps.
template <int MR, int NR>
void dot_tile_bf16(const DotGemm& g, const uint16_t* xb, int64_t m0, int64_t n0) {
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
  const uint16_t* w[NR];
  for (int j = 0; j < NR; j++) w[j] = reinterpret_cast<const uint16_t*>(g.w[n0 + j]);
  const uint16_t* x[MR];
  for (int i = 0; i < MR; i++) x[i] = xb + (m0 + i) * g.K;
  const int64_t K = g.K;
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) {
    __m512bh wv[NR];
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) wv[j] = load_bh(w[j] + k);
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
      __m512bh xv = load_bh(x[i] + k);
#pragma GCC unroll 4
      for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], xv, wv[j]);
    }
  }
  if (k < K) {
    const __mmask32 m = static_cast<__mmask32>((1ull << (K - k)) - 1ull);
    __m512bh wv[NR];
    for (int j = 0; j < NR; j++) wv[j] = load_bh(w[j] + k, m);
    for (int i = 0; i < MR; i++) {
      __m512bh xv = load_bh(x[i] + k, m);
      for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], xv, wv[j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) g.out[(m0 + i) * g.ldo + n0 + j] = g.alpha * _mm512_reduce_add_ps(acc[i][j]);
}

template <int MR>
void dot_rows_bf16(const DotGemm& g, const uint16_t* xb, int64_t m0, int64_t n0, int64_t n1) {
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) dot_tile_bf16<MR, 4>(g, xb, m0, n);
  for (; n < n1; n++) dot_tile_bf16<MR, 1>(g, xb, m0, n);
}

}  // namespace

void to_bf16_avx512bf16(const float* x, int64_t ldx, int64_t M, int64_t K, uint16_t* out) {
  for (int64_t m = 0; m < M; m++) {
    const float* src = x + m * ldx;
    uint16_t* dst = out + m * K;
    int64_t k = 0;
    for (; k + 16 <= K; k += 16)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + k)));
    if (k < K) {
      const __mmask16 mk = static_cast<__mmask16>((1u << (K - k)) - 1u);
      _mm256_mask_storeu_epi16(dst + k, mk, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mk, src + k)));
    }
  }
}

void dot_bf16_avx512bf16(const DotGemm& g, const uint16_t* xb, int64_t n0, int64_t n1) {
  // Column blocks of 64 keep four weight rows per tile warm while every row of x streams past.
  for (int64_t nb = n0; nb < n1; nb += 64) {
    const int64_t ne = nb + 64 < n1 ? nb + 64 : n1;
    int64_t m = 0;
    for (; m + 4 <= g.M; m += 4) dot_rows_bf16<4>(g, xb, m, nb, ne);
    for (; m < g.M; m++) dot_rows_bf16<1>(g, xb, m, nb, ne);
  }
}

}  // namespace dsa

#pragma GCC pop_options
