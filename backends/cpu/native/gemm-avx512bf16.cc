// AVX-512-BF16 dot kernels (the opt-in `bf16` precision): x is rounded to bf16 once per call
// (vcvtneps2bf16, round to nearest even) and multiplied with the weights by vdpbf16ps, which
// accumulates pairs of bf16 products into f32 lanes.
//  - bf16 weights are read in place: every output element sums the same 32-element chunks of K in the
//    same order into its own accumulator, then one horizontal add.
//  - f8_e4m3 and i8 (GGUF Q8_0) weights with block scales (bk a multiple of 32), from 8 rows of x on,
//    are widened exactly to bf16 into a panel of up to 64 rows per column block (once per call), in the
//    lane-block layout below, so that each accumulator lane sums one scale block only and a group of 16
//    blocks is scaled by one FMA. Fewer rows (decode): the streamed GEMV of gemm-stream8-avx512bf16.cc
//    (see kBf16LaneBlocksMinRows).
//  - Prefill (bf16 weights: x larger than L1; block-scaled: always): 4 rows of x over one K chunk stay in L1 while the weight tiles of a
//    column block stream past from L2 (dot_rows_chunked_bf16, dot_rows_lanes); the accumulators wait in
//    memory between chunks, so each lane sees the same operations as over the whole K.
// The result of a row does not depend on M (within M >= 8 for block-scaled weights), on the tile it
// falls in, or on the thread split.
// Compiled for the avx512bf16 target through the pragma below; callers check the CPU first.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "gemm.h"
#include "segments.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")

#include "gemm-tiles.h"
#include "lane-masks-avx512.h"
#include "reduce-add16-avx512.h"
#include "transpose16-avx512.h"
#include "widen-avx512.h"

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
  for (int j = 0; j < NR; j++) w[j] = reinterpret_cast<const uint16_t*>(g.row(n0 + j));
  const uint16_t* x[MR];
  for (int i = 0; i < MR; i++) x[i] = xb + (m0 + i) * g.K;
  const int64_t K = g.K;
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) {
    __m512bh wv[NR];
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) {
      wv[j] = load_bh(w[j] + k);
      // Tiles of several weight rows: the first row tile of x asks for each weight row's line kWeightsAheadL2
      // on into L2 (gemm-tiles.h); the other row tiles find the rows there. Single rows stream without it.
      if (NR > 1 && m0 == 0) _mm_prefetch(reinterpret_cast<const char*>(w[j] + k) + kWeightsAheadL2, _MM_HINT_T1);
    }
#pragma GCC unroll 8
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
  if constexpr (MR == 4 && NR == 4) {
    store_sums_4x4(&acc[0][0], g.alpha, g.out + m0 * g.ldo + n0, g.ldo);  // all 16 sums at once
  } else if (NR == 2 && MR > 2) {
    // 8 x 2 tiles (and their 3-7-row rests): the sums by one reduction of up to 16 accumulators (zeros after), bit
    // for bit _mm512_reduce_add_ps each (`linears` at 8 tokens 5-17% faster: small's K = 384 rows have 12
    // vdpbf16ps per accumulator, and a horizontal sum each cost nearly as much).
    __m512 v[16];
    for (int t = 0; t < 16; t++) v[t] = t < MR * NR ? acc[t / NR][t % NR] : _mm512_setzero_ps();
    alignas(64) float sums[16];
    _mm512_store_ps(sums, _mm512_mul_ps(_mm512_set1_ps(g.alpha), reduce_add16_rows(v)));
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) g.out[(m0 + i) * g.ldo + n0 + j] = sums[i * NR + j];
  } else {
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) g.out[(m0 + i) * g.ldo + n0 + j] = g.alpha * _mm512_reduce_add_ps(acc[i][j]);
  }
}

// Row m of x against weight rows [n0, n0 + 16), row after row (one sequential stream), the 16 sums
// reduced at once by reduce_add16_rows: the bits of dot_tile_bf16, without a horizontal sum per row, which
// costs as much as the row's dot products when K is small (the experts' down projections: K = 96). Each row
// also prefetches every line of row ahead + j where that is before `ahead_end` (none when ahead_end <= ahead).
inline void dot_row16_bf16(const DotGemm& g, const uint16_t* xb, int64_t m, int64_t n0, int64_t ahead,
                           int64_t ahead_end) {
  const uint16_t* x = xb + m * g.K;
  const int64_t K = g.K, kv = K / 32 * 32;
  const __mmask32 tail = static_cast<__mmask32>((1ull << (K - kv)) - 1ull);
  __m512 acc[16];
#pragma GCC unroll 16
  for (int j = 0; j < 16; j++) {
    const uint16_t* w = reinterpret_cast<const uint16_t*>(g.row(n0 + j));
    if (ahead + j < ahead_end) {
      const char* p = reinterpret_cast<const char*>(g.row(ahead + j));
      for (int64_t b = 0; b < 2 * K; b += 64) _mm_prefetch(p + b, _MM_HINT_T0);
    }
    __m512 a = _mm512_setzero_ps();
    for (int64_t k = 0; k < kv; k += 32) a = _mm512_dpbf16_ps(a, load_bh(x + k), load_bh(w + k));
    if (kv < K) a = _mm512_dpbf16_ps(a, load_bh(x + kv, tail), load_bh(w + kv, tail));
    acc[j] = a;
  }
  _mm512_storeu_ps(g.out + m * g.ldo + n0, _mm512_mul_ps(_mm512_set1_ps(g.alpha), reduce_add16_rows(acc)));
}

// Rows of at most this many elements take dot_row16_bf16 where the weights stream.
constexpr int64_t kRow16MaxK = 512;

// How far ahead dot_rows_bf16 prefetches such rows: about 6 KB, in whole blocks of 16 rows. Short rows make
// short streams (an expert's down projection, K = 96: 192-byte rows, 98 KB per thread and expert) that the
// hardware prefetchers pick up late: prefetching 32 rows ahead took moeExperts' down phase at 8 tokens from
// 199-270 to 139-176 µs per call (alternating calls in one process; prefetching a block of 16 rows at once
// before it, 21-24% instead of 30-35%; the next expert's first rows into L2 as well, no change).
constexpr int64_t kRow16AheadBytes = 6144;

// Rows [m0, m0 + MR) of x against weight rows [n0, n1): 4 weight rows per tile, or one at a time where
// `stream` (decode: each thread then reads one sequential stream, see stream_rows), 16 at a time for short
// rows, which the first row of x (m0 = 0) prefetches ahead up to n_end (the end of the thread's rows). Same
// bits every way.
template <int MR>
void dot_rows_bf16(const DotGemm& g, const uint16_t* xb, int64_t m0, int64_t n0, int64_t n1, int64_t n_end,
                   bool stream) {
  if (stream && g.K <= kRow16MaxK) {
    const int64_t ahead = (kRow16AheadBytes / (2 * g.K) + 15) / 16 * 16;
    for (; n0 + 16 <= n1; n0 += 16)
      for (int i = 0; i < MR; i++) dot_row16_bf16(g, xb, m0 + i, n0, n0 + ahead, m0 + i == 0 ? n_end : 0);
  }
  col_tiles(stream, n0, n1, [&](auto nr, int64_t n) { dot_tile_bf16<MR, nr>(g, xb, m0, n); });
}

// Weight rows per column block of the chunked tiles, at most, and the K chunk (a multiple of 32): 4 rows of x
// over one chunk (4 KB) stay in L1 while the block's weight tiles stream past them from L2.
constexpr int64_t kChunkCols = 64;
constexpr int64_t kChunkK = 512;
constexpr int kChunkRows = 4;

// dot_tile_bf16 over k in [k0, k1) (k0 a multiple of 32; k1 a multiple of 32 or K), its accumulators kept
// in acc (16 floats per pair, row stride kChunkCols) between chunks: each lane sees the same operations in
// the same order as over the whole K.
template <int MR, int NR>
inline void dot_chunk_bf16(const DotGemm& g, const uint16_t* xb, int64_t m0, int64_t n0, int64_t j0, int64_t k0,
                           int64_t k1, float* acc_mem) {
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_load_ps(acc_mem + (i * kChunkCols + j0 + j) * 16);
  const uint16_t* w[NR];
  for (int j = 0; j < NR; j++) w[j] = reinterpret_cast<const uint16_t*>(g.row(n0 + j));
  const uint16_t* x[MR];
  for (int i = 0; i < MR; i++) x[i] = xb + (m0 + i) * g.K;
  int64_t k = k0;
  for (; k + 32 <= k1; k += 32) {
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
  if (k < k1) {
    const __mmask32 m = static_cast<__mmask32>((1ull << (k1 - k)) - 1ull);
    __m512bh wv[NR];
    for (int j = 0; j < NR; j++) wv[j] = load_bh(w[j] + k, m);
    for (int i = 0; i < MR; i++) {
      __m512bh xv = load_bh(x[i] + k, m);
      for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], xv, wv[j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) _mm512_store_ps(acc_mem + (i * kChunkCols + j0 + j) * 16, acc[i][j]);
}

// Rows [m0, m0 + MR) of x against weight rows [n0, n1) (at most kChunkCols), chunk by chunk of K.
template <int MR>
[[gnu::noinline]] void dot_rows_chunked_bf16(const DotGemm& g, const uint16_t* xb, int64_t m0, int64_t n0, int64_t n1) {
  alignas(64) float acc[MR * kChunkCols * 16];
  for (int64_t t = 0; t < MR * kChunkCols * 16; t += 16) _mm512_store_ps(acc + t, _mm512_setzero_ps());
  for (int64_t k0 = 0; k0 < g.K; k0 += kChunkK) {
    const int64_t k1 = std::min(g.K, k0 + kChunkK);
    col_tiles(false, n0, n1, [&](auto nr, int64_t n) { dot_chunk_bf16<MR, nr>(g, xb, m0, n, n - n0, k0, k1, acc); });
  }
  for (int i = 0; i < MR; i++)
    for (int64_t n = n0; n < n1; n++)
      g.out[(m0 + i) * g.ldo + n] = g.alpha * _mm512_reduce_add_ps(_mm512_load_ps(acc + (i * kChunkCols + n - n0) * 16));
}

// The lane-block layout of a block-scaled K: K split into layout blocks of B elements (B a multiple of
// 32 dividing the scale block bk, so a layout block lies in one scale block), 16 consecutive layout
// blocks per group; within a group, vector v (v in [0, B / 2)) holds in 32-bit lane l the pair of
// elements (2v, 2v + 1) of layout block l. Elements past K are zero. x and the weights are packed the
// same way; lane l of an accumulator then sums layout block l only, and after the group it is scaled
// by a vector of the 16 blocks' scales.
// Weight rows per converted panel, at most.
constexpr int64_t kLanePanelRows = 64;

struct LaneBlocks {
  int64_t B = 32;       // layout block width
  int64_t groups = 0;   // groups of 16 layout blocks
  int64_t vectors() const { return B / 2; }  // per group
  int64_t row() const { return groups * 16 * B; }
};

// The B among bk, bk / 2, ... (multiples of 32) giving the shortest padded row; the widest on ties.
LaneBlocks lane_blocks(int64_t K, int64_t bk) {
  LaneBlocks best;
  best.groups = -1;
  for (int64_t B = bk; B >= 32 && B % 32 == 0; B /= 2) {
    const int64_t groups = (K + 16 * B - 1) / (16 * B);
    if (best.groups < 0 || groups * 16 * B < best.row()) {
      best.B = B;
      best.groups = groups;
    }
  }
  return best;
}

// Elements [k, k + 32) of a row as bf16 in natural order (those from K on zero), by source type.
struct FromF32 {
  const float* p;
  __m512i operator()(int64_t k, int64_t K) const {
    const __mmask32 m = first32(K - k);
    const __m512 lo = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), p + k);
    const __m512 hi = _mm512_maskz_loadu_ps(static_cast<__mmask16>(m >> 16), p + k + 16);
    return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
  }
};
struct FromE4m3 {  // worth value · 2^-8 (exact): the scales carry the 256
  const uint8_t* p;
  __m512i operator()(int64_t k, int64_t K) const {
    const __m256i b = _mm256_maskz_loadu_epi8(first32(K - k), p + k);
    return (__m512i)_mm512_cvtne2ps_pbh(widen_e4m3_x2p8(_mm256_extracti128_si256(b, 1)),
                                        widen_e4m3_x2p8(_mm256_castsi256_si128(b)));
  }
};
struct FromI8 {
  const uint8_t* p;
  __m512i operator()(int64_t k, int64_t K) const {
    const __m256i b = _mm256_maskz_loadu_epi8(first32(K - k), p + k);
    return (__m512i)_mm512_cvtne2ps_pbh(widen_i8(_mm256_extracti128_si256(b, 1)), widen_i8(_mm256_castsi256_si128(b)));
  }
};

// One row of K elements into dst (lb.row() bf16) in the lane-block layout: for each group and each
// 32-element column chunk c of its blocks, the 16 blocks' chunks c transposed into vectors 16c.. 16c+15.
template <class From>
void pack_lane_blocks(const LaneBlocks& lb, int64_t K, const From& from, uint16_t* dst) {
  const int64_t B = lb.B, V = lb.vectors();
  for (int64_t g = 0; g < lb.groups; g++) {
    const int64_t k0 = g * 16 * B;
    for (int64_t c = 0; c < B / 32; c++) {
      __m512i r[16];
      for (int l = 0; l < 16; l++) r[l] = from(k0 + l * B + 32 * c, K);
      transpose16(r);
      uint16_t* out = dst + (g * V + 16 * c) * 32;
      for (int v = 0; v < 16; v++) _mm512_storeu_si512(out + v * 32, r[v]);
    }
  }
}

// Weight rows [n0, n1) of g converted for one column block: rows of lb.row() bf16, and per row and
// group the 16 layout blocks' scales (· 256 for f8_e4m3; zero past K).
struct Panel {
  std::vector<uint16_t> w;
  std::vector<float> s;

  void fill(const DotGemm& g, const LaneBlocks& lb, int64_t n0, int64_t n1) {
    const int64_t row = lb.row(), srow = lb.groups * 16;
    if (w.size() < static_cast<size_t>((n1 - n0) * row)) w.resize(static_cast<size_t>((n1 - n0) * row));
    if (s.size() < static_cast<size_t>((n1 - n0) * srow)) s.resize(static_cast<size_t>((n1 - n0) * srow));
    const float factor = g.wdtype == DType::f8_e4m3 ? 256.0f : 1.0f;
    for (int64_t n = n0; n < n1; n++) {
      uint16_t* wr = w.data() + (n - n0) * row;
      if (g.wdtype == DType::f8_e4m3)
        pack_lane_blocks(lb, g.K, FromE4m3{g.row(n)}, wr);
      else
        pack_lane_blocks(lb, g.K, FromI8{g.row(n)}, wr);
      float* sr = s.data() + (n - n0) * srow;
      for (int64_t b = 0; b < srow; b++) {
        const int64_t k = b * lb.B;
        sr[b] = k < g.K ? g.wscale[n][k / g.bk] * factor : 0.0f;
      }
    }
  }
};

// One MR x NR tile against the panel for group g: part[i][j] = Σ_v vdpbf16ps(x[i] vector v, w[j] vector v)
// (each lane one layout block), then total[i][j] += part[i][j] · scales of w[j]. total (16 floats per pair,
// touched once per group) lives in memory, so the part accumulators get the registers.
template <int MR, int NR>
inline void dot_group_lanes(const LaneBlocks& lb, const uint16_t* const* x, const Panel& p, int64_t g, int64_t j0,
                            float* total) {
  const int64_t row = lb.row(), V = lb.vectors(), srow = lb.groups * 16;
  const uint16_t* w[NR];
  for (int j = 0; j < NR; j++) w[j] = p.w.data() + (j0 + j) * row + g * V * 32;
  __m512 part[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) part[i][j] = _mm512_setzero_ps();
  for (int64_t v = 0; v < V; v++) {
    __m512bh wv[NR];
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) wv[j] = load_bh(w[j] + v * 32);
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
      const __m512bh xv = load_bh(x[i] + v * 32);
#pragma GCC unroll 4
      for (int j = 0; j < NR; j++) part[i][j] = _mm512_dpbf16_ps(part[i][j], xv, wv[j]);
    }
  }
  for (int j = 0; j < NR; j++) {
    const __m512 s = _mm512_loadu_ps(p.s.data() + (j0 + j) * srow + g * 16);
    for (int i = 0; i < MR; i++) {
      float* t = total + (i * kLanePanelRows + j0 + j) * 16;
      _mm512_store_ps(t, _mm512_fmadd_ps(part[i][j], s, _mm512_load_ps(t)));
    }
  }
}

// Rows [m0, m0 + MR) of x against the panel's columns [0, cols): group by group, each group's x chunk (MR
// rows of 16 layout blocks) stays in L1 while every weight tile of the panel streams past it from L2 (a tile
// over the whole K re-read both operands from L2, which capped it at 0.55-0.67 of the vdpbf16ps peak). Each
// lane sees the same operations in the same order as over the whole K: out = alpha · Σ lanes of total.
template <int MR>
[[gnu::noinline]] void dot_rows_lanes(const LaneBlocks& lb, const uint16_t* xb, const Panel& p, int64_t m0,
                                      int64_t cols, float* out, int64_t ldo, float alpha) {
  const int64_t row = lb.row(), V = lb.vectors();
  alignas(64) float total[MR * kLanePanelRows * 16];
  for (int64_t t = 0; t < MR * kLanePanelRows * 16; t += 16) _mm512_store_ps(total + t, _mm512_setzero_ps());
  for (int64_t g = 0; g < lb.groups; g++) {
    const uint16_t* x[MR];
    for (int i = 0; i < MR; i++) x[i] = xb + (m0 + i) * row + g * V * 32;
    col_tiles(false, 0, cols, [&](auto nr, int64_t j) { dot_group_lanes<MR, nr>(lb, x, p, g, j, total); });
  }
  for (int i = 0; i < MR; i++)
    for (int64_t j = 0; j < cols; j++)
      out[(m0 + i) * ldo + j] = alpha * _mm512_reduce_add_ps(_mm512_load_ps(total + (i * kLanePanelRows + j) * 16));
}

// Block-scaled weights: column blocks whose panel stays within about half of L2, each converted once,
// then every row tile of x against it, 4 weight rows at a time.
void dot_lane_blocks(const DotGemm& g, const uint16_t* xb, int64_t n0, int64_t n1) {
  const LaneBlocks lb = lane_blocks(g.K, g.bk);
  const int64_t fit = (512 * 1024) / (lb.row() * 2);
  const int64_t block = std::min<int64_t>(kLanePanelRows, std::max<int64_t>(4, fit / 4 * 4));
  thread_local Panel panel;
  float* out = g.out + n0;
  for (int64_t nb = n0; nb < n1; nb += block) {
    const int64_t ne = std::min(n1, nb + block);
    panel.fill(g, lb, nb, ne);
    row_tiles<kChunkRows>(0, g.M, [&](auto mr, int64_t m) { dot_rows_lanes<mr>(lb, xb, panel, m, ne - nb, out + (nb - n0), g.ldo, g.alpha); });
  }
}

// Block-scaled weights from kBf16LaneBlocksMinRows (8) rows of x on: below, widening the panel costs more
// than vdpbf16ps saves (v32-dims decode, M = 1: 105 -> 179 ms/token on fp8 and 100 -> 236 on Q8_0 through
// the panel).
bool lane_blocks_apply(const DotGemm& g) {
  return (g.wdtype == DType::f8_e4m3 || g.wdtype == DType::i8) && g.wscale != nullptr && g.bk % 32 == 0 &&
         g.bk > 0 && g.M >= kBf16LaneBlocksMinRows;
}

}  // namespace

bool bf16_dot_applies(const DotGemm& g) {
  return (g.wdtype == DType::bf16 && g.wscale == nullptr) || lane_blocks_apply(g) || stream8_bf16_applies(g);
}

int64_t bf16_x_row(const DotGemm& g) {
  if (lane_blocks_apply(g)) return lane_blocks(g.K, g.bk).row();
  return stream8_bf16_applies(g) ? stream8_x_row(g) : g.K;
}

void to_bf16_avx512bf16(const DotGemm& g, uint16_t* out) {
  if (stream8_bf16_applies(g)) return stream8_pack_x(g, out);
  if (lane_blocks_apply(g)) {
    const LaneBlocks lb = lane_blocks(g.K, g.bk);
    for (int64_t m = 0; m < g.M; m++) pack_lane_blocks(lb, g.K, FromF32{g.x + m * g.ldx}, out + m * lb.row());
    return;
  }
  const int64_t K = g.K;
  for (int64_t m = 0; m < g.M; m++) {
    const float* src = g.x + m * g.ldx;
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

const uint16_t* bf16_x_here(const DotGemm& g) {
  uint16_t* xb = scratch<uint16_t, 4>(g.M * bf16_x_row(g));
  to_bf16_avx512bf16(g, xb);
  return xb;
}

void dot_bf16_avx512bf16(const DotGemm& g, const uint16_t* xb, int64_t n0, int64_t n1) {
  if (lane_blocks_apply(g)) return dot_lane_blocks(g, xb, n0, n1);
  if (amx_dot_applies(g)) return dot_amx_bf16(g, xb, n0, n1);
  if (stream8_bf16_applies(g)) return dot_stream8_bf16(g, xb, n0, n1);
  // Column blocks of 64 keep four weight rows per tile warm while every row of x streams past. x is bf16:
  // half the L1 footprint of the f32 rows stream_rows assumes. 64 weight bytes per vdpbf16ps.
  const bool stream = stream_rows(g.M, (g.K + 1) / 2, 64);
  if (!stream && (g.M * g.K * 2 <= 32768 || (g.K > 2 * kChunkK && g.K <= 4096 && g.M * g.K * 2 <= 262144))) {
    // A decode batch whose x fits in L1: each weight tile meets every row tile while it is in L1, so the weights
    // stream from memory once (through the column blocks below, the second row tile re-read them from L2 and a
    // batch of 8 streamed at half the GEMV's rate). Also x in L2 where K would take the chunked tiles (1024 < K <=
    // 4096, a tile's weight rows in L1): small's dense down projection, K = 2816, 28% faster at 8 rows and 18% at
    // 32 (replayed steps alternating both ways in one process, Zen 4 EPYC). With K <= 1024 and x beyond L1 (32
    // rows of small), the column blocks below are the faster: `linear` 5-8% at 32 rows (the first row tile asks
    // for the block's weights ahead into L2, dot_tile_bf16).
    if (g.M <= 8) {
      // All rows of x against 2 weight rows at a time: each weight row is read in one pass (4-row tiles took
      // two row tiles over every weight tile). small's lm head at 8 rows on the Zen 4 EPYC
      // (dev/batch-gemv-bench.cc): 2.4-2.7 against 3.3 ms, a plain read of the weights 2.4; replayed steps at 8
      // tokens alternating both ways in one process: `linear` 15-28% faster, `linears` 13-18%. (The f32
      // precision's tile, whose x is twice the bytes, was 25-57% slower so.)
      int64_t n = n0;
      for (; n + 2 <= n1; n += 2) with_count<8>(g.M, [&](auto mr) { dot_tile_bf16<mr, 2>(g, xb, 0, n); });
      if (n < n1) with_count<8>(g.M, [&](auto mr) { dot_tile_bf16<mr, 1>(g, xb, 0, n); });
      return;
    }
    col_tiles(false, n0, n1, [&](auto nr, int64_t n) {
      row_tiles<4>(0, g.M, [&](auto mr, int64_t m) { dot_tile_bf16<mr, nr>(g, xb, m, n); });
    });
    return;
  }
  if (stream || g.K <= 2 * kChunkK) {
    // 4 rows of x over the whole K fit in L1 (K <= 1024: 8 KB) or stream: tiles over the whole K, 64 columns
    // per block (chunking only adds the accumulators' round trips there: small's 1024-wide shapes 7% slower).
    for (int64_t nb = n0; nb < n1; nb += 64) {
      const int64_t ne = nb + 64 < n1 ? nb + 64 : n1;
      // 4 rows of x per tile, then one tile of the rest: with streamed single weight rows, each row of a tile is
      // its own accumulator chain on one load of the weights (a decode expert's 2-3 tokens).
      row_tiles<4>(0, g.M, [&](auto mr, int64_t m) { dot_rows_bf16<mr>(g, xb, m, nb, ne, n1, stream); });
    }
    return;
  }
  // Column blocks whose weights stay within about half of L2; each row tile of x meets the block chunk by chunk.
  const int64_t block = std::min<int64_t>(kChunkCols, std::max<int64_t>(4, (512 * 1024) / (g.K * 2) / 4 * 4));
  for (int64_t nb = n0; nb < n1; nb += block) {
    const int64_t ne = std::min(n1, nb + block);
    row_tiles<kChunkRows>(0, g.M, [&](auto mr, int64_t m) { dot_rows_chunked_bf16<mr>(g, xb, m, nb, ne); });
  }
}

}  // namespace dsa

#pragma GCC pop_options
