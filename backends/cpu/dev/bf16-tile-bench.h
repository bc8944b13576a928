// The bf16 dot tile the batch microbenchmarks (batch-gemv-bench.cc, batch-tile-shapes-bench.cc) time: the
// engine's gemm-avx512bf16.cc tile on small's lm_head shape (lm-head-bench.h), with its prefetch as a parameter.
// Include after <immintrin.h> in a file built for AVX-512 BF16 (-march=native on such a CPU).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "lm-head-bench.h"

namespace lm_head_bench {

// Rows [m0, m0 + MR) of x (bf16 [*, K]) against weight rows w[j] = weights + ((n + j) % rows) · K, j < NR (bf16
// [*, K]): out[(m0 + i) · N + n + j] = Σ_k x · w, one vdpbf16ps accumulator per output over K in order. The first
// row tile (m0 == 0) asks for each weight row's line kPrefetchBytes on with hint kHint (none at 0).
template <int MR, int NR, int kPrefetchBytes, int kHint = _MM_HINT_T0>
inline void bf16_tile(const uint16_t* weights, const uint16_t* x, float* out, int64_t n, int64_t m0, int64_t rows) {
  constexpr int64_t kSteps = K / 32;
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
  const uint16_t* w[NR];
  for (int j = 0; j < NR; j++) w[j] = weights + ((n + j) % rows) * K;
  for (int64_t s = 0; s < kSteps; s++) {
    __m512bh wv[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) {
      wv[j] = (__m512bh)_mm512_loadu_si512(w[j] + s * 32);
      if (kPrefetchBytes > 0 && m0 == 0)
        _mm_prefetch(reinterpret_cast<const char*>(w[j] + s * 32) + kPrefetchBytes, static_cast<_mm_hint>(kHint));
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      const __m512bh xv = (__m512bh)_mm512_loadu_si512(x + (m0 + i) * K + s * 32);
#pragma GCC unroll 8
      for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], xv, wv[j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) out[(m0 + i) * N + n + j] = _mm512_reduce_add_ps(acc[i][j]);
}

}  // namespace lm_head_bench
