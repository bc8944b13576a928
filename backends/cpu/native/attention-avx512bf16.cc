// Absorbed MLA attention of one query in the opt-in bf16 precision: see attention-avx512bf16.h.
//  1. pack: the query's rows converted to bf16 (f32 rounded to nearest even; bf16 as stored; fp8 e4m3 times
//     its power-of-two block scale, exact), then laid out twice: keys (16 rows transposed into the lanes,
//     transpose16) and values (pairs of rows interleaved per column).
//  2. scores: an MR x NR tile of heads x 16-row blocks; per K pair, one broadcast of q's pair per head and
//     one vdpbf16ps per accumulator.
//  3. values: an MR x NR tile of heads x 16-column vectors; per pair of rows, one broadcast of p's pair per
//     head and one vdpbf16ps per accumulator.
// Compiled for the avx512bf16 target through the pragma below; callers check the CPU first.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "attention-avx512bf16.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")

#include "gemm-tiles.h"
#include "transpose16-avx512.h"
#include "widen-avx512.h"

namespace dsa {
namespace {

constexpr int64_t kFp8Block = 128;  // the fp8 cache's NoPE scale block

// The mask of the first n of 32 (16) elements (n <= 0: none).
inline __mmask32 first32(int64_t n) {
  return n >= 32 ? ~__mmask32{0} : n <= 0 ? __mmask32{0} : static_cast<__mmask32>((1u << n) - 1u);
}
inline __mmask16 first16(int64_t n) {
  return n >= 16 ? __mmask16{0xffff} : n <= 0 ? __mmask16{0} : static_cast<__mmask16>((1u << n) - 1u);
}

// 32 f32 (those from n on zero) rounded to bf16, in order.
inline __m512i round32(const float* p, int64_t n) {
  const __mmask32 m = first32(n);
  const __m512 lo = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), p);
  const __m512 hi = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 16), p + 16);
  return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

// Row t of `rows` as `width` bf16 (a multiple of 32; elements from W on zero).
void row_bf16(const MlaRowsView& rows, int64_t t, int64_t width, uint16_t* dst) {
  const int64_t W = rows.W;
  if (rows.dtype == DType::bf16) {
    const uint16_t* src = reinterpret_cast<const uint16_t*>(rows.rows[t]);
    for (int64_t k = 0; k < width; k += 32)
      _mm512_storeu_si512(dst + k, _mm512_maskz_loadu_epi16(first32(W - k), src + k));
    return;
  }
  if (rows.dtype == DType::f32) {
    const float* src = reinterpret_cast<const float*>(rows.rows[t]);
    for (int64_t k = 0; k < width; k += 32) _mm512_storeu_si512(dst + k, round32(src + k, W - k));
    return;
  }
  // fp8: e4m3 · scale (exact in f32 and in bf16) for the first Cn, then the bf16 RoPE tail.
  thread_local float f32[4096 + 32];
  const uint8_t* nope = rows.rows[t];
  const float* scales = rows.scales[t];
  const int64_t Cn = rows.Cn;
  for (int64_t k = 0; k < Cn; k += 16) {
    const __m128i bytes = _mm_maskz_loadu_epi8(first16(Cn - k), nope + k);
    const __m512 scale = _mm512_set1_ps(scales[k / kFp8Block] * 256.0f);
    _mm512_storeu_ps(f32 + k, _mm512_mul_ps(widen_e4m3_x2p8(bytes), scale));
  }
  const uint16_t* rope = reinterpret_cast<const uint16_t*>(rows.rope[t]);
  for (int64_t k = Cn; k < W; k++) {
    const uint32_t bits = static_cast<uint32_t>(rope[k - Cn]) << 16;
    std::memcpy(f32 + k, &bits, 4);
  }
  for (int64_t k = 0; k < width; k += 32) _mm512_storeu_si512(dst + k, round32(f32 + k, W - k));
}

inline __m512bh as_bh(__m512i v) { return (__m512bh)v; }
inline __m512bh pair(const uint32_t* p) { return (__m512bh)_mm512_set1_epi32(static_cast<int>(*p)); }

template <int MR, int NR>
void scores_tile(const uint32_t* qb, const MlaPackedBf16& packed, int64_t h0, int64_t b, float* logits, int64_t ldl) {
  const int64_t P = packed.pairs;
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
  const uint32_t* q[MR];
  for (int i = 0; i < MR; i++) q[i] = qb + (h0 + i) * P;
  const uint16_t* k[NR];
  for (int j = 0; j < NR; j++) k[j] = packed.keys.data() + (b + j) * P * 32;
  for (int64_t p = 0; p < P; p++) {
    __m512bh kv[NR];
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) kv[j] = as_bh(_mm512_loadu_si512(k[j] + p * 32));
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
      const __m512bh qv = pair(q[i] + p);
#pragma GCC unroll 4
      for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], qv, kv[j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) _mm512_storeu_ps(logits + (h0 + i) * ldl + (b + j) * 16, acc[i][j]);
}

template <int MR, int NR>
void values_tile(const uint32_t* pb, int64_t ldp, const MlaPackedBf16& packed, int64_t C, int64_t h0, int64_t v,
                 float* out, int64_t ldo) {
  const int64_t pairs = (packed.T + 1) / 2, V = packed.cvecs;
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
  const uint32_t* p[MR];
  for (int i = 0; i < MR; i++) p[i] = pb + (h0 + i) * ldp;
  const uint16_t* vals = packed.values.data() + v * 32;
  for (int64_t r = 0; r < pairs; r++) {
    __m512bh vv[NR];
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) vv[j] = as_bh(_mm512_loadu_si512(vals + (r * V + j) * 32));
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
      const __m512bh pv = pair(p[i] + r);
#pragma GCC unroll 4
      for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], pv, vv[j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) {
      const int64_t c = (v + j) * 16;
      _mm512_mask_storeu_ps(out + (h0 + i) * ldo + c, first16(C - c), acc[i][j]);
    }
}

}  // namespace

void mla_pack_size_bf16(const MlaRowsView& rows, MlaPackedBf16& packed) {
  if (rows.W > 4096) fail("mlaAttention: rows of " + std::to_string(rows.W) + " elements exceed 4096");
  packed.T = rows.T;
  packed.blocks = (rows.T + 15) / 16;
  packed.pairs = ((rows.W + 1) / 2 + 15) / 16 * 16;
  packed.cvecs = (rows.C + 15) / 16;
  const auto size = [](int64_t n) { return static_cast<size_t>(n); };
  packed.keys.resize(size(packed.blocks * packed.pairs * 32));
  packed.values.resize(size(packed.blocks * 8 * packed.cvecs * 32));
  packed.natural.resize(size(packed.blocks * 16 * packed.pairs * 2));
}

void mla_pack_bf16(const MlaRowsView& rows, MlaPackedBf16& packed, int64_t b0, int64_t b1) {
  const int64_t P = packed.pairs, width = 2 * P, V = packed.cvecs;
  // Output element 2l (2l + 1) of the interleave: column l of the first (second) row, l + 16 for the high half.
  alignas(64) uint16_t lo_idx[32], hi_idx[32];
  for (int l = 0; l < 16; l++) {
    lo_idx[2 * l] = static_cast<uint16_t>(l);
    lo_idx[2 * l + 1] = static_cast<uint16_t>(32 + l);
    hi_idx[2 * l] = static_cast<uint16_t>(16 + l);
    hi_idx[2 * l + 1] = static_cast<uint16_t>(48 + l);
  }
  const __m512i lo = _mm512_load_si512(lo_idx), hi = _mm512_load_si512(hi_idx);
  for (int64_t b = b0; b < b1; b++) {
    uint16_t* nat = packed.natural.data() + b * 16 * width;
    for (int64_t l = 0; l < 16; l++) {
      const int64_t t = 16 * b + l;
      if (t < rows.T)
        row_bf16(rows, t, width, nat + l * width);
      else
        std::fill(nat + l * width, nat + (l + 1) * width, uint16_t{0});
    }
    // keys: 16 pairs of the 16 rows per transpose.
    for (int64_t j = 0; j < P / 16; j++) {
      __m512i r[16];
      for (int l = 0; l < 16; l++) r[l] = _mm512_loadu_si512(nat + l * width + 32 * j);
      transpose16(r);
      uint16_t* dst = packed.keys.data() + (b * P + 16 * j) * 32;
      for (int v = 0; v < 16; v++) _mm512_storeu_si512(dst + v * 32, r[v]);
    }
    // values: rows 2i and 2i + 1 interleaved, 32 columns (two vectors) per step.
    for (int64_t i = 0; i < 8; i++) {
      const uint16_t* a = nat + 2 * i * width;
      const uint16_t* c = a + width;
      uint16_t* dst = packed.values.data() + (b * 8 + i) * V * 32;
      for (int64_t v = 0; v < V; v += 2) {
        const __m512i x = _mm512_loadu_si512(a + 16 * v), y = _mm512_loadu_si512(c + 16 * v);
        _mm512_storeu_si512(dst + v * 32, _mm512_permutex2var_epi16(x, lo, y));
        if (v + 1 < V) _mm512_storeu_si512(dst + (v + 1) * 32, _mm512_permutex2var_epi16(x, hi, y));
      }
    }
  }
}

void mla_round_pairs_bf16(const float* src, int64_t ld, int64_t rows, int64_t n, int64_t pairs, uint32_t* dst) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t k = 0; k < 2 * pairs; k += 32)
      _mm512_mask_storeu_epi32(dst + r * pairs + k / 2, first16(pairs - k / 2), round32(src + r * ld + k, n - k));
}

void mla_scores_bf16(const uint32_t* qb, int64_t H, const MlaPackedBf16& packed, float* logits, int64_t ldl,
                     int64_t b0, int64_t b1) {
  for (int64_t b = b0; b < b1; b += 4) {
    with_count<4>(std::min<int64_t>(4, b1 - b), [&](auto nr) {
      row_tiles<4>(0, H, [&](auto mr, int64_t h) { scores_tile<mr, nr>(qb, packed, h, b, logits, ldl); });
    });
  }
}

void mla_values_bf16(const uint32_t* pb, int64_t ldp, int64_t H, const MlaPackedBf16& packed, int64_t C, float* out,
                     int64_t ldo, int64_t v0, int64_t v1) {
  for (int64_t v = v0; v < v1; v += 4) {
    with_count<4>(std::min<int64_t>(4, v1 - v), [&](auto nr) {
      row_tiles<4>(0, H, [&](auto mr, int64_t h) { values_tile<mr, nr>(pb, ldp, packed, C, h, v, out, ldo); });
    });
  }
}

}  // namespace dsa

#pragma GCC pop_options
