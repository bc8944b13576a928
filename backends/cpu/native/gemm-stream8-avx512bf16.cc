// The bf16 precision's decode GEMV for 8-bit block-scaled weights (M < kBf16LaneBlocksMinRows): f8_e4m3
// (DeepSeek's 128-blocks) and i8 (GGUF Q8_0's 32-blocks). Each 64 weights are widened exactly to bf16 in
// registers by a 128-entry VBMI table (vpermi2b; fp8-avx512.h for e4m3, I8Table below for i8) and multiplied
// with x rounded to bf16 by two vdpbf16ps. The f32 kernels widen each 64 weights to four f32 vectors and need
// four FMAs: their fp8 GEMV was limited by that widening (v32-dims decode: about 30 GB/s of fp8 weights on 2
// cores against 47-51 GB/s for bf16 weights).
//
// Per output, scale blocks of whole 64-chunks (fp8; or unscaled, or one block over K): for each block in
// order, part = Σ over its chunks of vdpbf16ps(x0, w0) then vdpbf16ps(x1, w1); total = fma(part, scale, total).
// 32-blocks (Q8_0): a chunk holds two blocks, and the table's word order puts block 2c in lanes 0-7 and
// block 2c + 1 in lanes 8-15 of both vectors, so part = the chunk's two vdpbf16ps and total = fma(part,
// [s(2c) x 8, s(2c + 1) x 8], total). Then out = alpha · Σ lanes of total. The same operations whatever the
// tile, so a row's result does not depend on M (1 to 7) or on the thread split.
// Decode (x in L1) takes 4-row tiles over the quarters of a thread's columns (quarter_tiles, gemm-tiles.h): 4
// long sequential streams per thread. One row at a time (one stream per thread, session 5's choice on a Zen 4
// VM) read 11-12 GB/s of fp8 weights from memory on the 2-core Xeon VM, the quarters 21-23.
// Compiled for AVX512-VBMI + BF16 through the pragma below; stream8_bf16_applies checks the CPU.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <algorithm>

#include "gemm.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx512bf16")

#include "fp8-avx512.h"
#include "gemm-tiles.h"

namespace dsa {
namespace {

// i8 weights (two's complement) by table lookup on the magnitude: the bf16 of 0..127 (exact), the sign
// or-ed into the high byte, and -128 (whose magnitude vpabsb leaves at 0x80, which the 7-bit index reads as
// 0) patched to 0xc3 00.
struct I8Table : Bf16ByteTables {
  I8Table() : Bf16ByteTables([](int i) { return f32_bits(static_cast<float>(i)); }) {}
};

// 64 i8 bytes -> two vectors of 32 bf16 words in fp8_widen64_bf16's order.
inline void i8_widen64_bf16(const I8Table& t, __m512i bytes, __m512i w[2]) {
  const __m512i a = _mm512_abs_epi8(bytes);
  __m512i hi = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(t.hi0, a, t.hi1), bytes,
                                         _mm512_set1_epi8(static_cast<char>(0x80)), 0xf8);  // a | (b & c)
  hi = _mm512_mask_mov_epi8(hi, _mm512_cmpeq_epi8_mask(bytes, _mm512_set1_epi8(-128)),
                            _mm512_set1_epi8(static_cast<char>(0xc3)));
  const __m512i lo = _mm512_permutex2var_epi8(t.lo0, a, t.lo1);
  w[0] = _mm512_unpacklo_epi8(lo, hi);
  w[1] = _mm512_unpackhi_epi8(lo, hi);
}

// The widening of one weight dtype: its table (built once, passed by reference so that the tiles keep it in
// registers) and widen(table, 64 bytes, two bf16 vectors).
struct Fp8Widen {
  using Table = Fp8Table;
  static void widen(const Table& t, __m512i bytes, __m512i w[2]) { fp8_widen64_bf16(t, bytes, w); }
};
struct I8Widen {
  using Table = I8Table;
  static void widen(const Table& t, __m512i bytes, __m512i w[2]) { i8_widen64_bf16(t, bytes, w); }
};

// Bytes [64c, 64c + 64) of a weight row of K bytes, zero past K.
inline __m512i chunk64(const uint8_t* w, int64_t c, int64_t K) {
  const int64_t k = 64 * c;
  if (k + 64 <= K) return _mm512_loadu_si512(w + k);
  return _mm512_maskz_loadu_epi8(static_cast<__mmask64>((1ull << (K - k)) - 1ull), w + k);
}

// Whether g's scale blocks are 32 wide (two per chunk) rather than whole chunks.
inline bool half_blocks(const DotGemm& g) { return g.wscale != nullptr && g.bk == 32 && g.bk < g.K; }

// Chunks per scale block (the whole row where unscaled or one block covers K).
inline int64_t block_chunks(const DotGemm& g, int64_t chunks) {
  return g.wscale != nullptr && g.bk < g.K ? g.bk / 64 : chunks;
}

// Chunk c of a packed x row (stream8_pack_x) as the two bf16 vectors that meet a widened weight chunk.
struct XChunk {
  __m512bh v[2];
  XChunk(const uint16_t* x, int64_t c)
      : v{(__m512bh)_mm512_loadu_si512(x + 64 * c), (__m512bh)_mm512_loadu_si512(x + 64 * c + 32)} {}
};

// acc + one chunk's 64 products, as every tile adds them: two vdpbf16ps, the first half then the second.
inline __m512 dot_chunk(__m512 acc, const XChunk& x, const __m512i wv[2]) {
  return _mm512_dpbf16_ps(_mm512_dpbf16_ps(acc, x.v[0], (__m512bh)wv[0]), x.v[1], (__m512bh)wv[1]);
}

// Chunk c of NR weight rows widened into wv; 4-row tiles also ask for one line kWeightsAheadL2 on per row into L2
// (gemm-tiles.h, as the f32 fp8 tile); single rows stream without it.
template <int NR, class W>
inline void widen_rows(const typename W::Table& t, const uint8_t* const* w, int64_t c, int64_t K, __m512i (*wv)[2]) {
#pragma GCC unroll 4
  for (int j = 0; j < NR; j++) {
    W::widen(t, chunk64(w[j], c, K), wv[j]);
    if (NR > 1) _mm_prefetch(reinterpret_cast<const char*>(w[j] + 64 * c) + kWeightsAheadL2, _MM_HINT_T1);
  }
}

// Scale blocks of whole chunks: one MR x NR tile (x packed by stream8_pack_x, `row` bf16 per row).
template <int MR, int NR, class W>
[[gnu::noinline]] void dot_tile_chunk_blocks(const DotGemm& g, const typename W::Table& t, const uint16_t* xb, int64_t row,
                                           int64_t m0, int64_t n0, int64_t step) {
  const int64_t K = g.K, chunks = row / 64, seg = block_chunks(g, chunks);
  const uint16_t* x[MR];
  for (int i = 0; i < MR; i++) x[i] = xb + (m0 + i) * row;
  const uint8_t* w[NR];
  for (int j = 0; j < NR; j++) w[j] = g.row(n0 + j * step);
  auto scale = [&](int j, int64_t c) { return _mm512_set1_ps(g.wscale != nullptr ? g.wscale[n0 + j * step][c * 64 / g.bk] : 1.0f); };
  __m512 total[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) total[i][j] = _mm512_setzero_ps();
  int64_t c0 = 0;
  if constexpr (NR == 1) {
    // One weight row (the decode stream): kBlocks scale blocks in flight as independent chains, added into
    // total in block order (a single chain waits on vdpbf16ps's latency every 64 weights).
    constexpr int kBlocks = 4;
    for (; c0 + kBlocks * seg <= K / 64; c0 += kBlocks * seg) {
      __m512 p[MR][kBlocks];
      for (int i = 0; i < MR; i++)
        for (int b = 0; b < kBlocks; b++) p[i][b] = _mm512_setzero_ps();
      for (int64_t cc = 0; cc < seg; cc++) {
#pragma GCC unroll 4
        for (int b = 0; b < kBlocks; b++) {
          const int64_t c = c0 + b * seg + cc;
          __m512i wv[2];
          W::widen(t, _mm512_loadu_si512(w[0] + 64 * c), wv);
#pragma GCC unroll 4
          for (int i = 0; i < MR; i++) p[i][b] = dot_chunk(p[i][b], XChunk(x[i], c), wv);
        }
      }
      for (int b = 0; b < kBlocks; b++) {
        const __m512 s = scale(0, c0 + b * seg);
        for (int i = 0; i < MR; i++) total[i][0] = _mm512_fmadd_ps(p[i][b], s, total[i][0]);
      }
    }
  }
  for (; c0 < chunks; c0 += seg) {
    const int64_t c1 = std::min(chunks, c0 + seg);
    __m512 part[MR][NR];
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) part[i][j] = _mm512_setzero_ps();
    for (int64_t c = c0; c < c1; c++) {
      __m512i wv[NR][2];
      widen_rows<NR, W>(t, w, c, K, wv);
#pragma GCC unroll 4
      for (int i = 0; i < MR; i++) {
        const XChunk xc(x[i], c);
#pragma GCC unroll 4
        for (int j = 0; j < NR; j++) part[i][j] = dot_chunk(part[i][j], xc, wv[j]);
      }
    }
    for (int j = 0; j < NR; j++) {
      const __m512 s = scale(j, c0);
      for (int i = 0; i < MR; i++) total[i][j] = _mm512_fmadd_ps(part[i][j], s, total[i][j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) g.out[(m0 + i) * g.ldo + n0 + j * step] = g.alpha * _mm512_reduce_add_ps(total[i][j]);
}

// 32-wide scale blocks (Q8_0): one MR x NR tile, each chunk's two blocks summed in lanes 0-7 and 8-15 and
// scaled by one FMA.
template <int MR, int NR, class W>
[[gnu::noinline]] void dot_tile_half_blocks(const DotGemm& g, const typename W::Table& t, const uint16_t* xb, int64_t row,
                                          int64_t m0, int64_t n0, int64_t step) {
  const int64_t K = g.K, chunks = row / 64, blocks = (K + 31) / 32;
  const uint16_t* x[MR];
  for (int i = 0; i < MR; i++) x[i] = xb + (m0 + i) * row;
  const uint8_t* w[NR];
  for (int j = 0; j < NR; j++) w[j] = g.row(n0 + j * step);
  __m512 total[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) total[i][j] = _mm512_setzero_ps();
  const __mmask16 upper = 0xff00;
  for (int64_t c = 0; c < chunks; c++) {
    __m512i wv[NR][2];
    widen_rows<NR, W>(t, w, c, K, wv);
    __m512 s[NR];
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) {
      const float* sr = g.wscale[n0 + j * step] + 2 * c;
      s[j] = _mm512_mask_blend_ps(upper, _mm512_set1_ps(sr[0]), _mm512_set1_ps(2 * c + 1 < blocks ? sr[1] : 0.0f));
    }
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
      const XChunk xc(x[i], c);
#pragma GCC unroll 4
      for (int j = 0; j < NR; j++)
        total[i][j] = _mm512_fmadd_ps(dot_chunk(_mm512_setzero_ps(), xc, wv[j]), s[j], total[i][j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) g.out[(m0 + i) * g.ldo + n0 + j * step] = g.alpha * _mm512_reduce_add_ps(total[i][j]);
}

template <class W>
void dot_stream8(const DotGemm& g, const uint16_t* xb, int64_t n0, int64_t n1) {
  static const typename W::Table t;
  const int64_t row = stream8_x_row(g);
  // Where x stays in L1 (stream_rows counts f32: bf16 is half the bytes) and 64 weight bytes meet each
  // accumulator chain's latency: 4-row tiles over the quarters of the columns (4 long streams per thread);
  // else pairs of rows of x against 4 adjacent weight rows.
  const bool stream = stream_rows(g.M, row / 2, 64);
  const auto tiles = [&](auto&& tile) { stream_tiles(stream, n0, n1, tile); };
  if (half_blocks(g)) {
    tiles([&](auto nr, int64_t n, int64_t step) {
      row_tiles<2>(0, g.M, [&](auto mr, int64_t m) { dot_tile_half_blocks<mr, nr, W>(g, t, xb, row, m, n, step); });
    });
    return;
  }
  tiles([&](auto nr, int64_t n, int64_t step) {
    row_tiles<2>(0, g.M, [&](auto mr, int64_t m) { dot_tile_chunk_blocks<mr, nr, W>(g, t, xb, row, m, n, step); });
  });
}

}  // namespace

bool stream8_bf16_applies(const DotGemm& g) {
  static const bool vbmi = __builtin_cpu_supports("avx512vbmi");
  if (!vbmi || g.M >= kBf16LaneBlocksMinRows) return false;
  const bool blocks_ok = g.wscale == nullptr || g.bk % 64 == 0 || g.bk >= g.K;
  if (g.wdtype == DType::f8_e4m3) return blocks_ok;
  return g.wdtype == DType::i8 && g.wscale != nullptr && (blocks_ok || g.bk == 32);
}

int64_t stream8_x_row(const DotGemm& g) { return (g.K + 63) / 64 * 64; }

void stream8_pack_x(const DotGemm& g, uint16_t* out) {
  const int64_t K = g.K, row = stream8_x_row(g);
  for (int64_t m = 0; m < g.M; m++) {
    const float* src = g.x + m * g.ldx;
    for (int64_t k = 0; k < row; k += 64) {
      alignas(64) float f[64];
      for (int v = 0; v < 2; v++)
        for (int j = 0; j < 32; j++) {
          const int64_t e = k + fp8_widen64_bf16_element(v, j);
          f[32 * v + j] = e < K ? src[e] : 0.0f;
        }
      for (int v = 0; v < 2; v++)
        _mm512_storeu_si512(out + m * row + k + 32 * v,
                            (__m512i)_mm512_cvtne2ps_pbh(_mm512_load_ps(f + 32 * v + 16), _mm512_load_ps(f + 32 * v)));
    }
  }
}

void dot_stream8_bf16(const DotGemm& g, const uint16_t* xb, int64_t n0, int64_t n1) {
  if (g.wdtype == DType::f8_e4m3) return dot_stream8<Fp8Widen>(g, xb, n0, n1);
  dot_stream8<I8Widen>(g, xb, n0, n1);
}

}  // namespace dsa

#pragma GCC pop_options
