// AMX-BF16 dot kernel of the opt-in bf16 precision, for bf16 weights read in place (K a multiple of 32):
//   out[m, n] = alpha · Σ_k xb[m, k] · W(n, k)
// with the roles of AMX's operands swapped so that the weights need no repacking:
//   A tile (16 rows × 32 bf16): 16 weight rows' next 32 elements, loaded in place (row stride = the weight's);
//   B tile (16 K pairs × 16 columns): the rows of x transposed into VNNI pairs, packed once per call;
//   C tile (16 × 16 f32): 16 outputs × 16 rows of x, accumulated over all of K by TDPBF16PS in order.
// Tiles: C 0-3 (2 weight blocks × 2 groups of x rows), A 4-5, B 6-7, every one 16 rows × 64 bytes. Up to 32 rows
// of x (decode) take one weight block at a time with its A tiles double-buffered over the K chunks instead
// (dot_amx_pipelined): tiles are not renamed, so a reloaded A tile waits for its products, and the next chunk's
// weight rows should already be on their way (small's batch 1 and 8 steps 7% faster).
// Rows of x are padded with zeros to groups of 16 (a tile's columns cost nothing extra); weight blocks of
// fewer than 16 rows, or whose rows are not equally spaced, are copied 32 elements at a time into a
// zero-padded 1 KB buffer first. Every output element is then the same chain of TDPBF16PS over the K chunks
// in ascending order, whatever M, the tile it falls in or the thread split (batch-invariant), though not
// the same bits as the vdpbf16ps kernels: the pairs are summed in another order.
// The axpy form (matmul's b [K, N] with rows along N) takes the tiles the other way round: a rounded to bf16 is
// A (16 rows of a × 32 k, zero past M and K), b's rows paired into VNNI B tiles per 16 columns, C = 16 rows of
// a × 16 columns, summed over the K chunks in order: again one chain per output whatever M or the split.
// Compiled for the AMX target through the pragma below; amx_dot_applies checks the CPU (has_amx_bf16).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12's AVX-512 headers (transpose16)
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "cpu-features.h"
#include "gemm.h"
#include "segments.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,amx-tile,amx-bf16")

#include "amx-tile-config.h"
#include "pair-interleave-avx512.h"
#include "transpose16-avx512.h"

namespace dsa {
namespace {

// Tiles (numbers are literals below): C 0-3 (weight block 0 or 1 × x group 0 or 1), A 4-5, B 6-7.

// Weight row pointers of one 16-row block: loaded in place with one stride, or copied chunk by chunk.
struct WeightBlock {
  const uint16_t* base = nullptr;  // in place: row 0 of the block
  int64_t stride = 0;              // in place: bytes between rows
  const uint16_t* rows[16] = {};   // copied: each valid row (null past the last)
  bool in_place = false;
};

WeightBlock weight_block(const DotGemm& g, int64_t n, int64_t n1) {
  WeightBlock b;
  const int64_t count = std::min<int64_t>(16, n1 - n);
  for (int64_t i = 0; i < 16; i++) b.rows[i] = i < count ? reinterpret_cast<const uint16_t*>(g.row(n + i)) : nullptr;
  if (count == 16) {
    const int64_t stride = reinterpret_cast<const uint8_t*>(b.rows[1]) - reinterpret_cast<const uint8_t*>(b.rows[0]);
    bool even = stride > 0;
    for (int64_t i = 2; i < 16 && even; i++)
      even = reinterpret_cast<const uint8_t*>(b.rows[i]) - reinterpret_cast<const uint8_t*>(b.rows[i - 1]) == stride;
    if (even) {
      b.in_place = true;
      b.base = b.rows[0];
      b.stride = stride;
    }
  }
  return b;
}

// Where chunk c (elements 32c .. 32c + 31) of block b is as an A tile: in place, or copied into `buffer` (16
// rows of 64 bytes, zero past the block's rows). a_stride: that tile's row stride in bytes (a separate call,
// so that no tile load's arguments depend on the order they are evaluated in).
inline const uint16_t* a_tile(const WeightBlock& b, int64_t c, uint16_t* buffer) {
  if (b.in_place) return b.base + 32 * c;
  for (int i = 0; i < 16; i++) {
    if (b.rows[i] != nullptr)
      _mm512_store_si512(buffer + 32 * i, _mm512_loadu_si512(b.rows[i] + 32 * c));
    else
      _mm512_store_si512(buffer + 32 * i, _mm512_setzero_si512());
  }
  return buffer;
}

inline int64_t a_stride(const WeightBlock& b) { return b.in_place ? b.stride : 64; }

// A C tile stored as c (16 outputs × 16 rows of x) into out: rows [m0, min(M, m0 + 16)), outputs
// [n, min(n1, n + 16)), transposed in registers (a row of x per vector).
inline void store_c(const DotGemm& g, const float* c, int64_t m0, int64_t n, int64_t n1) {
  const int64_t rows = std::min<int64_t>(16, g.M - m0), outputs = std::min<int64_t>(16, n1 - n);
  __m512i r[16];
  for (int i = 0; i < 16; i++) r[i] = _mm512_load_si512(c + 16 * i);
  transpose16(r);  // r[j] lane i = output i of row j
  const __mmask16 mask = static_cast<__mmask16>((1u << outputs) - 1u);
  const __m512 alpha = _mm512_set1_ps(g.alpha);
  for (int64_t j = 0; j < rows; j++)
    _mm512_mask_storeu_ps(g.out + (m0 + j) * g.ldo + n, mask, _mm512_mul_ps(alpha, _mm512_castsi512_ps(r[j])));
}

}  // namespace

bool amx_dot_applies(const DotGemm& g) {
  return g.wdtype == DType::bf16 && g.wscale == nullptr && g.K > 0 && g.K % 32 == 0 && has_amx_bf16();
}

int64_t amx_x_size(const DotGemm& g) { return (g.M + 15) / 16 * (g.K / 32) * 256 + 16; }

uint32_t* amx_x_tiles(uint32_t* buffer) {
  return reinterpret_cast<uint32_t*>((reinterpret_cast<uintptr_t>(buffer) + 63) & ~uintptr_t{63});
}

void amx_pack_x(const DotGemm& g, const uint16_t* xb, uint32_t* packed, int64_t group0, int64_t group1) {
  const int64_t K = g.K, chunks = K / 32;
  for (int64_t q = group0; q < group1; q++) {
    const int64_t m0 = 16 * q, rows = std::min<int64_t>(16, g.M - m0);
    for (int64_t c = 0; c < chunks; c++) {
      __m512i r[16];
      for (int64_t j = 0; j < 16; j++)
        r[j] = j < rows ? _mm512_loadu_si512(xb + (m0 + j) * K + 32 * c) : _mm512_setzero_si512();
      transpose16(r);  // r[p] lane j = pair p of row j
      uint32_t* tile = packed + (q * chunks + c) * 256;
      for (int p = 0; p < 16; p++) _mm512_store_si512(tile + p * 16, r[p]);
    }
  }
}

const uint32_t* amx_pack_x_here(const DotGemm& g, const uint16_t* xb) {
  uint32_t* packed = amx_x_tiles(scratch<uint32_t, 5>(amx_x_size(g)));
  amx_pack_x(g, xb, packed, 0, (g.M + 15) / 16);
  return packed;
}

void dot_amx_bf16(const DotGemm& g, const uint16_t* xb, int64_t n0, int64_t n1) {
  if (n1 <= n0 || g.M <= 0) return;
  dot_amx_packed(g, amx_pack_x_here(g, xb), n0, n1);
}

namespace {

// dot_amx_packed for one or two groups of x rows (M <= 32): one 16-row weight block at a time, its A tiles
// double-buffered across the K chunks (tiles 4 and 5) so that the next chunk's weight rows load while this
// chunk's products run (tiles are not renamed: reusing one A tile waits for its products). C 0-1 (the groups),
// B 6-7. Each output is the same chain over the chunks in order as the 2 x 2 loop's.
constexpr int64_t kShortAhead = 4;  // blocks of short rows prefetched ahead

void dot_amx_pipelined(const DotGemm& g, const uint32_t* packed, int64_t n0, int64_t n1) {
  const int64_t chunks = g.K / 32;
  const bool pair = g.M > 16;
  const uint32_t* b0 = packed;
  const uint32_t* b1 = packed + chunks * 256;
  alignas(64) uint16_t buffer[2][16 * 32];
  // The C tiles of two blocks: a block's outputs are written once the next block's first products are on their
  // way, not right after its tile stores (vector loads of a tile store's bytes wait for it to complete, and the
  // next block's tile loads waited behind them: the lm head at 16 and 32 rows 4-6% faster).
  alignas(64) float tiles[2][2][16 * 16];
  int64_t pending = -1;  // the block whose outputs wait in tiles[pending_slot]
  int pending_slot = 0;
  const auto write_pending = [&] {
    if (pending < 0) return;
    store_c(g, tiles[pending_slot][0], 0, pending, n1);
    if (pair) store_c(g, tiles[pending_slot][1], 16, pending, n1);
    pending = -1;
  };
  AmxTileConfig config;
  for (int t = 0; t < 8; t++) config.tile(t, 16, 64);
  config.load();
  int slot = 0;
  for (int64_t n = n0; n < n1; n += 16) {
    const WeightBlock w = weight_block(g, n, n1);
    // Short rows (K <= 128, as MoE down projections of small models): a block is a few KB read in K / 32
    // strided tile loads, which the hardware prefetchers follow late; the block kShortAhead blocks on is asked
    // for into L2 (moeExperts' down phase at 32 tokens 3-5% faster; longer rows gained nothing from a whole block
    // asked for at once: up to 2 KB they take the next block chunk by chunk, below).
    if (w.in_place && w.stride <= 256 && n + 16 * (kShortAhead + 1) <= n1) {
      const char* ahead = reinterpret_cast<const char*>(w.base) + 16 * kShortAhead * w.stride;
      for (int64_t o = 0; o < 16 * w.stride; o += 64) _mm_prefetch(ahead + o, _MM_HINT_T1);
    }
    // Rows of 512 bytes to 2 KB (128 < K <= 1024; two or more to a 4 KB page, too short for the hardware streamer to
    // ramp up on): the next block's rows are asked for into L2 two chunks at a time, as this block's chunks are
    // multiplied. small's decode steps in the bf16 precision, alternating with and without in one process on the
    // 2-core Xeon VM (its weights largely in the 480 MB L3): 1 token a median 6% faster (-0.6 to -10.7%, seven runs),
    // 8 tokens 3.9%, 32 tokens within the noise (-15 to +6%). Longer rows stream on their own, and the requests only
    // competed: v32-dims (K = 1536 to 18432) 11% slower with them at 1 token, unchanged without (docs/benchmarks.md,
    // session 23).
    constexpr int64_t kAheadMaxStride = 2048;
    const bool ahead_rows = w.in_place && w.stride > 256 && w.stride <= kAheadMaxStride && n + 32 <= n1;
    const char* next[16];
    if (ahead_rows)
      for (int64_t i = 0; i < 16; i++) next[i] = reinterpret_cast<const char*>(g.row(n + 16 + i));
    _tile_zero(0);
    _tile_zero(1);
    const int64_t s = a_stride(w);
    _tile_loadd(4, a_tile(w, 0, buffer[0]), s);
    for (int64_t c = 0; c < chunks; c += 2) {
      // chunk c in tile 4; chunk c + 1 into tile 5
      if (c + 1 < chunks) _tile_loadd(5, a_tile(w, c + 1, buffer[1]), s);
      if (ahead_rows) {
        for (int64_t i = 0; i < 16; i++) {
          _mm_prefetch(next[i] + c * 64, _MM_HINT_T1);
          if (c + 1 < chunks) _mm_prefetch(next[i] + (c + 1) * 64, _MM_HINT_T1);
        }
      }
      _tile_loadd(6, b0 + c * 256, 64);
      _tile_dpbf16ps(0, 4, 6);
      if (pair) {
        _tile_loadd(7, b1 + c * 256, 64);
        _tile_dpbf16ps(1, 4, 7);
      }
      if (c == 0) write_pending();
      if (c + 1 >= chunks) break;
      // chunk c + 1 in tile 5; chunk c + 2 into tile 4
      if (c + 2 < chunks) _tile_loadd(4, a_tile(w, c + 2, buffer[0]), s);
      _tile_loadd(6, b0 + (c + 1) * 256, 64);
      _tile_dpbf16ps(0, 5, 6);
      if (pair) {
        _tile_loadd(7, b1 + (c + 1) * 256, 64);
        _tile_dpbf16ps(1, 5, 7);
      }
    }
    _tile_stored(0, tiles[slot][0], 64);
    if (pair) _tile_stored(1, tiles[slot][1], 64);
    pending = n;
    pending_slot = slot;
    slot ^= 1;
  }
  write_pending();
  _tile_release();
}

}  // namespace

void dot_amx_packed(const DotGemm& g, const uint32_t* packed, int64_t n0, int64_t n1) {
  if (n1 <= n0 || g.M <= 0) return;
  if (g.M <= 32) return dot_amx_pipelined(g, packed, n0, n1);
  const int64_t K = g.K, chunks = K / 32, groups = (g.M + 15) / 16;
  // Groups of x rows per pass: their B tiles (chunks KB each) stay within about 1 MB of L2 while every
  // weight block of [n0, n1) streams past once per pass.
  const int64_t per_pass = std::max<int64_t>(2, std::min<int64_t>(groups, (1 << 20) / (chunks * 1024)) / 2 * 2);
  alignas(64) uint16_t buffer[2][16 * 32];
  alignas(64) float tiles[4][16 * 16];
  AmxTileConfig config;
  for (int t = 0; t < 8; t++) config.tile(t, 16, 64);
  config.load();
  for (int64_t g0 = 0; g0 < groups; g0 += per_pass) {
    const int64_t g1 = std::min(groups, g0 + per_pass);
    for (int64_t n = n0; n < n1; n += 32) {
      const WeightBlock w0 = weight_block(g, n, n1);
      const bool second = n + 16 < n1;
      const WeightBlock w1 = second ? weight_block(g, n + 16, n1) : WeightBlock{};
      for (int64_t q = g0; q < g1; q += 2) {
        const bool pair = q + 1 < g1;
        const uint32_t* b0 = packed + q * chunks * 256;
        const uint32_t* b1 = b0 + chunks * 256;
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        const int64_t s0 = a_stride(w0), s1 = second ? a_stride(w1) : 64;
        for (int64_t c = 0; c < chunks; c++) {
          _tile_loadd(4, a_tile(w0, c, buffer[0]), s0);
          _tile_loadd(6, b0 + c * 256, 64);
          _tile_dpbf16ps(0, 4, 6);
          if (pair) {
            _tile_loadd(7, b1 + c * 256, 64);
            _tile_dpbf16ps(1, 4, 7);
          }
          if (second) {
            _tile_loadd(5, a_tile(w1, c, buffer[1]), s1);
            _tile_dpbf16ps(2, 5, 6);
            if (pair) _tile_dpbf16ps(3, 5, 7);
          }
        }
        _tile_stored(0, tiles[0], 64);
        _tile_stored(1, tiles[1], 64);
        _tile_stored(2, tiles[2], 64);
        _tile_stored(3, tiles[3], 64);
        store_c(g, tiles[0], 16 * q, n, n1);
        if (pair) store_c(g, tiles[1], 16 * (q + 1), n, n1);
        if (second) {
          store_c(g, tiles[2], 16 * q, n + 16, n1);
          if (pair) store_c(g, tiles[3], 16 * (q + 1), n + 16, n1);
        }
      }
    }
  }
  _tile_release();
}

bool amx_axpy_applies(const AxpyGemm& g) { return g.bdtype == DType::bf16 && g.K > 0 && has_amx_bf16(); }

void axpy_amx_bf16(const AxpyGemm& g, int64_t n0, int64_t n1) {
  if (n1 <= n0 || g.M <= 0) return;
  const int64_t K = g.K, chunks = (K + 31) / 32, Kp = 32 * chunks, groups = (g.M + 15) / 16;
  // a [M, Kp] in bf16 (round to nearest even), zero past K.
  uint16_t* ab = scratch<uint16_t, 6>(g.M * Kp);
  for (int64_t m = 0; m < g.M; m++) {
    uint16_t* dst = ab + m * Kp;
    for (int64_t k = 0; k < Kp; k += 16) {
      const int64_t left = std::max<int64_t>(0, std::min<int64_t>(16, K - k));
      const __mmask16 mk = static_cast<__mmask16>((1u << left) - 1u);
      const __m512 v = _mm512_maskz_loadu_ps(mk, g.a + m * g.lda + k);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k), (__m256i)_mm512_cvtneps_pbh(v));
    }
  }
  // b's columns [n0, n1) as B tiles, read row after row: [blocks of 16 columns][chunks][16 pairs of rows][16
  // columns], pair p of column j = (b[2p][j], b[2p + 1][j]) in one 32-bit lane, zero past K and past n1.
  const int64_t blocks = (n1 - n0 + 15) / 16;
  uint32_t* bt = amx_x_tiles(scratch<uint32_t, 7>(blocks * chunks * 256 + 16));
  const PairInterleave interleave;
  for (int64_t k = 0; k < Kp; k += 2) {
    const uint16_t* r0 = k < K ? reinterpret_cast<const uint16_t*>(g.b[k]) : nullptr;
    const uint16_t* r1 = k + 1 < K ? reinterpret_cast<const uint16_t*>(g.b[k + 1]) : nullptr;
    uint32_t* dst = bt + (k / 2) * 16;
    for (int64_t i = 0; i < blocks; i += 2) {
      const int64_t n = n0 + 16 * i, left = std::min<int64_t>(32, n1 - n);
      const __mmask32 mask = left >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << left) - 1u);
      const __m512i x = r0 ? _mm512_maskz_loadu_epi16(mask, r0 + n) : _mm512_setzero_si512();
      const __m512i y = r1 ? _mm512_maskz_loadu_epi16(mask, r1 + n) : _mm512_setzero_si512();
      _mm512_store_si512(dst + i * chunks * 256, interleave.low(x, y));
      if (i + 1 < blocks) _mm512_store_si512(dst + (i + 1) * chunks * 256, interleave.high(x, y));
    }
  }
  alignas(64) float c[4][16 * 16];
  const __m512 alpha = _mm512_set1_ps(g.alpha);
  // Four column blocks at a time (C 0-3, A 4, B 5-7 with 5 loaded twice), so that their chains overlap. A and
  // C hold the group's rows only (the last group may have fewer than 16: the tiles' time goes with them).
  int64_t configured = 0;
  for (int64_t q = 0; q < groups; q++) {
    const int64_t rows = std::min<int64_t>(16, g.M - 16 * q);
    if (rows != configured) {
      AmxTileConfig config;
      for (int t = 0; t < 5; t++) config.tile(t, static_cast<int>(rows), 64);
      for (int t = 5; t < 8; t++) config.tile(t, 16, 64);
      config.load();
      configured = rows;
    }
    for (int64_t i = 0; i < blocks; i += 4) {
      const int64_t count = std::min<int64_t>(4, blocks - i);
      const uint32_t* b0 = bt + i * chunks * 256;
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      for (int64_t ch = 0; ch < chunks; ch++) {
        const uint32_t* bc = b0 + ch * 256;
        _tile_loadd(4, ab + 16 * q * Kp + 32 * ch, Kp * 2);
        _tile_loadd(5, bc, 64);
        _tile_dpbf16ps(0, 4, 5);
        if (count > 1) {
          _tile_loadd(6, bc + chunks * 256, 64);
          _tile_dpbf16ps(1, 4, 6);
        }
        if (count > 2) {
          _tile_loadd(7, bc + 2 * chunks * 256, 64);
          _tile_dpbf16ps(2, 4, 7);
        }
        if (count > 3) {
          _tile_loadd(5, bc + 3 * chunks * 256, 64);
          _tile_dpbf16ps(3, 4, 5);
        }
      }
      _tile_stored(0, c[0], 64);
      _tile_stored(1, c[1], 64);
      _tile_stored(2, c[2], 64);
      _tile_stored(3, c[3], 64);
      for (int64_t j = 0; j < count; j++) {
        const int64_t n = n0 + 16 * (i + j), cols = std::min<int64_t>(16, n1 - n);
        const __mmask16 mask = static_cast<__mmask16>((1u << cols) - 1u);
        for (int64_t r = 0; r < rows; r++)
          _mm512_mask_storeu_ps(g.out + (16 * q + r) * g.ldo + n, mask,
                                _mm512_mul_ps(alpha, _mm512_load_ps(c[j] + 16 * r)));
      }
    }
  }
  _tile_release();
}

}  // namespace dsa

#pragma GCC pop_options
