// Absorbed MLA attention of one query in the opt-in bf16 precision: see attention-avx512bf16.h.
//  1. pack: the query's rows converted to bf16 (f32 rounded to nearest even; bf16 as stored; fp8 e4m3 times
//     its power-of-two block scale, exact), then laid out twice: keys (16 rows transposed into the lanes,
//     transpose16; not on AMX, whose scores read the rows as they lie) and values (pairs of rows interleaved
//     per column). bf16 rows are laid out from where they lie; the others 16 rows at a time through a bf16
//     copy in L1 (on AMX every row through `natural`, which its scores read).
//  2. scores and 3. values: one tile (pair_tile), MR heads x NR vectors of 16 outputs: per step one broadcast
//     pair per head (q's K pair; p's pair of rows) and one vdpbf16ps per accumulator. Scores step over K pairs
//     with 16-row blocks as columns; values step over pairs of rows with 16-column vectors as columns.
// Compiled for the avx512bf16 target through the pragma below; callers check the CPU first.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "attention-avx512bf16.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels.h"
#include "prefetch-rows.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")

#include "gemm-tiles.h"
#include "lane-masks-avx512.h"
#include "pair-interleave-avx512.h"
#include "transpose16-avx512.h"
#include "widen-avx512.h"

namespace dsa {
namespace {

constexpr int64_t kFp8Block = 128;  // the fp8 cache's NoPE scale block

// 32 f32 (those from n on zero) rounded to bf16, in order.
inline __m512i round32(const float* p, int64_t n) {
  const __mmask32 m = first32(n);
  const __m512 lo = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), p);
  const __m512 hi = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 16), p + 16);
  return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

// Rows a pack asks for ahead of the one it converts (prefetcht1, into L2), for f32 rows (and bf16 rows on AMX;
// elsewhere bf16 rows are laid out where they lie, the next 16-row block asked for at once). The rows lie
// scattered over the cache, so the hardware prefetchers do not fetch them: at a decode batch of 32 (small, depth
// 1024, bf16 precision, rows of 320 bytes) the pack went 13-15% faster with 8, 12 or 16 rows ahead on the 2-core
// Xeon VM in a phase of slow memory (timed inside, alternating), the attention 2.4% in a faster one (four runs,
// -6.8 to +1.6%). fp8 rows (three pieces each, decoded on the way) made the attention 2.8% slower with it (five
// runs, -4.2 to +7.8%): they are not asked for (docs/benchmarks.md, session 23).
constexpr int64_t kPackAhead = 8;

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

// The one tile of both products: out[i, 16 j .. 16 j + 15] = Σ_s vdpbf16ps(pair a[i][s], B(s, j)) for MR rows of
// pairs a (row stride lda) and NR vectors per step of B (vector (s, j) at b + (s · step + j · col) · 32), over
// `steps` steps in order; stored up to column `limit` (masked).
struct PairOperands {
  const uint32_t* a;
  int64_t lda;
  const uint16_t* b;
  int64_t step, col;  // in vectors of 32 bf16
  int64_t steps;
  float* out;
  int64_t ldo;
  int64_t limit;
};

template <int MR, int NR>
void pair_tile(const PairOperands& o, int64_t i0, int64_t j0) {
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
  const uint32_t* a[MR];
  for (int i = 0; i < MR; i++) a[i] = o.a + (i0 + i) * o.lda;
  const uint16_t* b[NR];
  for (int j = 0; j < NR; j++) b[j] = o.b + (j0 + j) * o.col * 32;
  for (int64_t s = 0; s < o.steps; s++) {
    __m512bh bv[NR];
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) bv[j] = as_bh(_mm512_loadu_si512(b[j] + s * o.step * 32));
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
      const __m512bh av = pair(a[i] + s);
#pragma GCC unroll 4
      for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], av, bv[j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) {
      const int64_t c = (j0 + j) * 16;
      _mm512_mask_storeu_ps(o.out + (i0 + i) * o.ldo + c, first16(o.limit - c), acc[i][j]);
    }
}

// pair_tile over rows [0, H) and column vectors [j0, j1): 4 x 4 tiles, then the rests.
void pair_tiles(const PairOperands& o, int64_t H, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; j += 4) {
    with_count<4>(std::min<int64_t>(4, j1 - j), [&](auto nr) {
      row_tiles<4>(0, H, [&](auto mr, int64_t i) { pair_tile<mr, nr>(o, i, j); });
    });
  }
}

}  // namespace

void mla_pack_size_bf16(const MlaRowsView& rows, int64_t H, MlaPackedBf16& packed) {
  if (rows.W > 4096) fail("mlaAttention: rows of " + std::to_string(rows.W) + " elements exceed 4096");
  packed.T = rows.T;
  packed.blocks = (rows.T + 15) / 16;
  packed.pairs = ((rows.W + 1) / 2 + 15) / 16 * 16;
  packed.cvecs = (rows.C + 15) / 16;
  const auto size = [](int64_t n) { return static_cast<size_t>(n); };
  packed.keys.resize(mla_amx_applies(H) ? 0 : size(packed.blocks * packed.pairs * 32));
  packed.values.resize(size(packed.blocks * 8 * packed.cvecs * 32));
  packed.natural.resize(mla_amx_applies(H) ? size(packed.blocks * 16 * packed.pairs * 2) : 0);
}

namespace {

// Block b's keys (16 pairs of its 16 rows per transpose; none where `keys` is empty: AMX reads the rows as A
// tiles instead) and values (rows 2i and 2i + 1 interleaved, 32 columns, two vectors, per step) from its rows
// src[0..15], bf16, each read up to W (zeros past it).
void lay_out_block(const uint16_t* const src[16], int64_t W, MlaPackedBf16& packed, int64_t b,
                   const PairInterleave& interleave) {
  const int64_t P = packed.pairs, V = packed.cvecs;
  for (int64_t j = 0; j < (packed.keys.empty() ? 0 : P / 16); j++) {
    const __mmask32 m = first32(W - 32 * j);
    __m512i r[16];
    for (int l = 0; l < 16; l++) r[l] = _mm512_maskz_loadu_epi16(m, src[l] + 32 * j);
    transpose16(r);
    uint16_t* dst = packed.keys.data() + (b * P + 16 * j) * 32;
    for (int v = 0; v < 16; v++) _mm512_storeu_si512(dst + v * 32, r[v]);
  }
  for (int64_t i = 0; i < 8; i++) {
    const uint16_t* a = src[2 * i];
    const uint16_t* c = src[2 * i + 1];
    uint16_t* dst = packed.values.data() + (b * 8 + i) * V * 32;
    for (int64_t v = 0; v < V; v += 2) {
      const __mmask32 m = first32(W - 16 * v);
      const __m512i x = _mm512_maskz_loadu_epi16(m, a + 16 * v), y = _mm512_maskz_loadu_epi16(m, c + 16 * v);
      _mm512_storeu_si512(dst + v * 32, interleave.low(x, y));
      if (v + 1 < V) _mm512_storeu_si512(dst + (v + 1) * 32, interleave.high(x, y));
    }
  }
}

// Blocks [b0, b1) of bf16 rows laid out straight from the cache rows (no copy into `natural`, which only AMX's
// scores read); rows past T are a zero row. The copy wrote 80 KB per query of small (256 rows of 160) and read it
// back, beyond L1: dev/mla-query-bench.cc, one query's pack 40-43k against 21-25k TSC cycles with the rows from
// memory, 18-21k against 10-12k from L3; in the step at 8 tokens `mlaAttention` -15.5, -21.2% (2-core Zen 4,
// session 25).
void pack_bf16_rows(const MlaRowsView& rows, MlaPackedBf16& packed, int64_t b0, int64_t b1) {
  alignas(64) static const uint16_t kZeroRow[4096 + 32] = {};
  const PairInterleave interleave;
  for (int64_t b = b0; b < b1; b++) {
    const uint16_t* src[16];
    for (int64_t l = 0; l < 16; l++) {
      const int64_t t = 16 * b + l;
      src[l] = t < rows.T ? reinterpret_cast<const uint16_t*>(rows.rows[t]) : kZeroRow;
    }
    // The next block's rows into L2 while this one is laid out.
    const int64_t next = 16 * (b + 1);
    if (next < rows.T) prefetch_rows_l2(rows.rows + next, std::min<int64_t>(16, rows.T - next), 2 * rows.W);
    lay_out_block(src, rows.W, packed, b, interleave);
  }
}

}  // namespace

void mla_pack_bf16(const MlaRowsView& rows, MlaPackedBf16& packed, int64_t b0, int64_t b1) {
  const bool amx = packed.keys.empty();
  if (rows.dtype == DType::bf16 && !amx) return pack_bf16_rows(rows, packed, b0, b1);
  const int64_t width = 2 * packed.pairs;
  const bool ahead = rows.dtype != DType::f8_e4m3;
  const int64_t row_bytes = rows.W * static_cast<int64_t>(dtype_bytes(rows.dtype));
  const PairInterleave interleave;
  // AMX's scores read every block's rows from `natural`; elsewhere a block's 16 rows are converted into this
  // thread's scratch, which stays in L1 (not a query's whole `natural`: 2.4 MB at V3.2's 2048 rows of 576).
  thread_local std::vector<uint16_t> block;
  if (!amx && block.size() < static_cast<size_t>(16 * width)) block.resize(static_cast<size_t>(16 * width));
  for (int64_t b = b0; b < b1; b++) {
    uint16_t* nat = amx ? packed.natural.data() + b * 16 * width : block.data();
    const uint16_t* src[16];
    for (int64_t l = 0; l < 16; l++) {
      const int64_t t = 16 * b + l;
      if (ahead && t + kPackAhead < rows.T) prefetch_rows_l2(rows.rows + t + kPackAhead, 1, row_bytes);
      if (t < rows.T)
        row_bf16(rows, t, width, nat + l * width);
      else
        std::fill(nat + l * width, nat + (l + 1) * width, uint16_t{0});
      src[l] = nat + l * width;
    }
    lay_out_block(src, rows.W, packed, b, interleave);
  }
}

void mla_round_pairs_bf16(const float* src, int64_t ld, int64_t rows, int64_t n, int64_t pairs, uint32_t* dst) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t k = 0; k < 2 * pairs; k += 32)
      _mm512_mask_storeu_epi32(dst + r * pairs + k / 2, first16(pairs - k / 2), round32(src + r * ld + k, n - k));
}

void mla_scores_bf16(const uint32_t* qb, int64_t H, const MlaPackedBf16& packed, float* logits, int64_t ldl,
                     int64_t b0, int64_t b1) {
  if (mla_amx_applies(H)) return mla_scores_amx(qb, H, packed, logits, ldl, b0, b1);
  // Steps: K pairs (one vector apart); columns: 16-row blocks (a block's `pairs` vectors apart).
  const PairOperands o{qb, packed.pairs, packed.keys.data(), 1, packed.pairs, packed.pairs, logits, ldl, ldl};
  pair_tiles(o, H, b0, b1);
}

void mla_values_bf16(const uint32_t* pb, int64_t ldp, int64_t H, const MlaPackedBf16& packed, int64_t C, float* out,
                     int64_t ldo, int64_t v0, int64_t v1) {
  if (mla_amx_applies(H)) return mla_values_amx(pb, ldp, H, packed, C, out, ldo, v0, v1);
  // Steps: pairs of rows (`cvecs` vectors apart); columns: 16-column vectors (one vector apart).
  const PairOperands o{pb, ldp, packed.values.data(), packed.cvecs, 1, (packed.T + 1) / 2, out, ldo, C};
  pair_tiles(o, H, v0, v1);
}

}  // namespace dsa

#pragma GCC pop_options
