// The GEMM tiles and drivers that gemm-avx2.cc and gemm-avx512.cc share, written once over a load
// trait L: an ISA's vector traits (its register type Vec, kLanes f32 lanes, zero / loadu / set1 / mul /
// fmadd / storeu / hsum, masked loads and stores where kMasked, kTileRows rows of x per dot tile,
// kAxpyVectors vectors of columns per axpy tile, and store_tile) plus how one weight dtype widens
// into a register (kBytes, kFp8, load). Each ISA file includes this header inside its
// `#pragma GCC target` region, so every instantiation is compiled for its own ISA; everything here is in an anonymous namespace so that the files share no
// instantiation (the linker must never pick the AVX-512 copy for the AVX2 path).
#pragma once

#include <cstdint>
#include <type_traits>

#include "gemm.h"

namespace dsa {
namespace {

template <int N>
using Int = std::integral_constant<int, N>;

// f(Int<n>{}) for a count n in [1, Max] known only at run time (n < 1 is taken as 1).
template <int Max, class F>
inline void with_count(int64_t n, F&& f) {
  if constexpr (Max > 1) {
    if (n == Max) return f(Int<Max>{});
    return with_count<Max - 1>(n, f);
  } else {
    f(Int<1>{});
  }
}

// tile(Int<MR>{}, m) over the rows [m0, m1): tiles of R rows, then one tile of the rest.
template <int R, class Tile>
inline void row_tiles(int64_t m0, int64_t m1, Tile&& tile) {
  int64_t m = m0;
  for (; m + R <= m1; m += R) tile(Int<R>{}, m);
  if (m < m1) with_count<R - 1>(m1 - m, [&](auto rows) { tile(rows, m); });
}

// Whether a dot tile should take one weight row at a time (the f32 precision's bf16 and fp8 drivers and the bf16
// precision's 8-bit one take 4-row tiles over the column quarters instead, stream_tiles): with few rows of x (at
// most 4) that stay in L1
// (16 KB of f32, since a single weight row re-reads all of x; K = 16384 x at 64 KB comes from L2, 4 bytes
// per weight byte), and at least 32 bytes of weights per FMA latency of an accumulator chain. Each thread then reads its weights as one sequential stream, which the hardware prefetchers
// follow; four rows read together are four streams a row apart that they lose at every tile (bf16 GEMV at
// M = 1 over 65 MB on 2 Zen 4 cores: 23 GB/s with 4-row tiles, 30 with single rows;
// backends/cpu/bench/gemv-stream.mjs). With fewer bytes per FMA a single row's accumulator chain (4 cycles per
// FMA) is slower than the memory: i8 (16 bytes per FMA) and AVX2's bf16 keep 4-row tiles; so do more rows of
// x, where 4-row tiles reuse each x vector 4 times.
inline bool stream_rows(int64_t rows, int64_t K, int64_t bytes_per_fma) {
  return rows <= 4 && rows * K * 4 <= 16384 && bytes_per_fma >= 32;
}

// How far on a tile of several weight rows asks for each row's next line, in bytes, into L2 (prefetcht1): 16 KB.
// On the 2-core Zen 4 EPYC (32 MiB L3), in place of one line 8 KB on into L1, replayed decode steps of small
// alternating both ways in one process: 1 token (f32 precision: 4 quarter streams per thread) 15-17% faster, 8
// tokens 17% (both precisions), 32 tokens 2% (f32) and 12% (bf16; with the bf16 precision's first row tile
// alone asking). 8, 16 and 32 KB alike, 64 KB 5%; into L1 at 16 KB no gain: the lines a core can wait for in L1
// at once held its streams back, while L2 takes them early.
constexpr int64_t kWeightsAheadL2 = 16384;

// tile(Int<NR>{}, n) over the columns [n0, n1): 4 weight rows at a time, then single ones (`stream`: single
// rows only). Every output gets the same operations whatever NR is.
template <class Tile>
inline void col_tiles(bool stream, int64_t n0, int64_t n1, Tile&& tile) {
  int64_t n = n0;
  if (!stream)
    for (; n + 4 <= n1; n += 4) tile(Int<4>{}, n);
  for (; n < n1; n++) tile(Int<1>{}, n);
}

// tile(Int<NR>{}, n, step) over the columns [n0, n1), the tile's weight rows n + j · step: the range cut into 4
// quarters of q rows, and tile i takes row i of each (step q), then the rows past 4q single. Each thread then
// reads 4 long sequential streams, each running on from one tile into the next: on the 2-core Xeon VM one stream
// per core reads 11-12 GB/s of fp8 weights from memory, 4 adjacent rows per tile (streams restarted every tile)
// 17-20, the quarters 22-23. Every output gets the same operations as with col_tiles.
template <class Tile>
inline void quarter_tiles(int64_t n0, int64_t n1, Tile&& tile) {
  const int64_t q = (n1 - n0) / 4;
  for (int64_t i = 0; i < q; i++) tile(Int<4>{}, n0 + i, q);
  for (int64_t n = n0 + 4 * q; n < n1; n++) tile(Int<1>{}, n, int64_t{1});
}

// tile(Int<NR>{}, n, step) over the columns [n0, n1): quarter_tiles for decode (`stream`, see stream_rows), else
// adjacent 4-row tiles (col_tiles, step 1).
template <class Tile>
inline void stream_tiles(bool stream, int64_t n0, int64_t n1, Tile&& tile) {
  if (stream) return quarter_tiles(n0, n1, tile);
  col_tiles(false, n0, n1, [&](auto nr, int64_t n) { tile(nr, n, int64_t{1}); });
}

// block(mb, me) over blocks of 32 rows of x: a block stays in L2 while the weight tiles stream past it.
template <class Block>
inline void row_blocks(int64_t M, Block&& block) {
  constexpr int64_t kRowBlock = 32;
  for (int64_t mb = 0; mb < M; mb += kRowBlock) block(mb, mb + kRowBlock < M ? mb + kRowBlock : M);
}

// The first `rest` lanes of one vector (the others zero): masked where the ISA masks, else through a
// zero-padded copy.
template <class L>
inline typename L::Vec load_part(const uint8_t* p, int64_t rest) {
  if constexpr (L::kMasked) {
    return L::load(p, L::mask(rest));
  } else {
    alignas(64) uint8_t pad[L::kLanes * L::kBytes] = {};
    __builtin_memcpy(pad, p, rest * L::kBytes);
    return L::load(pad);
  }
}
template <class L>
inline typename L::Vec loadx_part(const float* p, int64_t rest) {
  if constexpr (L::kMasked) {
    return L::loadu(p, L::mask(rest));
  } else {
    alignas(64) float pad[L::kLanes] = {};
    __builtin_memcpy(pad, p, rest * 4);
    return L::loadu(pad);
  }
}
template <class L>
inline void store_part(float* p, int64_t rest, typename L::Vec v) {
  if constexpr (L::kMasked) {
    L::storeu(p, L::mask(rest), v);
  } else {
    alignas(64) float pad[L::kLanes];
    L::storeu(pad, v);
    __builtin_memcpy(p, pad, rest * 4);
  }
}

// acc[i][j] = 0 over a whole tile of accumulators.
template <class L, int R, int C>
inline void zero_tile(typename L::Vec (&acc)[R][C]) {
#pragma GCC unroll 4
  for (int i = 0; i < R; i++)
#pragma GCC unroll 4
    for (int j = 0; j < C; j++) acc[i][j] = L::zero();
}

// rows[i] = base + (m0 + i) · ld: the rows [m0, m0 + R) of a row-major f32 operand.
template <int R>
inline void tile_rows(const float* (&rows)[R], const float* base, int64_t ld, int64_t m0) {
  for (int i = 0; i < R; i++) rows[i] = base + (m0 + i) * ld;
}

// The operand rows of an MR x NR dot tile at (m0, n0): x[i] = row m0 + i of x, w[j] = weight row n0 + j · step
// (step 1 but in quarter_tiles).
template <int MR, int NR>
inline void dot_operands(const DotGemm& g, int64_t m0, int64_t n0, const float* (&x)[MR], const uint8_t* (&w)[NR],
                         int64_t step = 1) {
  tile_rows(x, g.x, g.ldx, m0);
  for (int j = 0; j < NR; j++) w[j] = g.row(n0 + j * step);
}

// acc[i][j] += x[i][k, k + kLanes) · lo[j] + x[i][k + kLanes, k + 2 · kLanes) · hi[j], in that order: one
// step over two vectors of weights per row.
template <class L, int MR, int NR>
inline void fma_two(typename L::Vec (&acc)[MR][NR], const float* const (&x)[MR], int64_t k,
                    const typename L::Vec (&lo)[NR], const typename L::Vec (&hi)[NR]) {
#pragma GCC unroll 4
  for (int i = 0; i < MR; i++) {
    const typename L::Vec x0 = L::loadu(x[i] + k), x1 = L::loadu(x[i] + k + L::kLanes);
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) acc[i][j] = L::fmadd(x1, hi[j], L::fmadd(x0, lo[j], acc[i][j]));
  }
}

// acc[i][j] += x[i][k, k + rest) · wv[j] (the first `rest` lanes, the others zero): a K tail.
template <class L, int MR, int NR>
inline void fma_part(typename L::Vec (&acc)[MR][NR], const float* const (&x)[MR], int64_t k, int64_t rest,
                     const typename L::Vec (&wv)[NR]) {
  for (int i = 0; i < MR; i++) {
    const typename L::Vec xv = loadx_part<L>(x[i] + k, rest);
    for (int j = 0; j < NR; j++) acc[i][j] = L::fmadd(xv, wv[j], acc[i][j]);
  }
}

// out[(m0 + i) · ldo + n0 + j · step] = alpha · Σ lanes of acc[i][j], one horizontal sum per accumulator
// (the general case of L::store_tile; step 1 but in quarter_tiles).
template <class L, int MR, int NR>
inline void store_sums(const typename L::Vec (&acc)[MR][NR], float alpha, float* out, int64_t ldo, int64_t m0,
                       int64_t n0, int64_t step = 1) {
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) out[(m0 + i) * ldo + n0 + j * step] = alpha * L::hsum(acc[i][j]);
}

// acc[i][j] += Σ_k x[i][k] · w[j][k] over k in [k0, k1), one vector of kLanes at a time in order, then the tail
// (masked, or through a zero-padded copy): the inner loop of every dot tile.
template <class L, int MR, int NR>
inline void dot_span(typename L::Vec (&acc)[MR][NR], const float* const (&x)[MR], const uint8_t* const (&w)[NR],
                     int64_t k0, int64_t k1) {
  using Vec = typename L::Vec;
  int64_t k = k0;
  for (; k + L::kLanes <= k1; k += L::kLanes) {
    Vec wv[NR];
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) wv[j] = L::load(w[j] + k * L::kBytes);
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
      const Vec xv = L::loadu(x[i] + k);
#pragma GCC unroll 4
      for (int j = 0; j < NR; j++) acc[i][j] = L::fmadd(xv, wv[j], acc[i][j]);
    }
  }
  if (k < k1) {
    Vec wv[NR];
    for (int j = 0; j < NR; j++) wv[j] = load_part<L>(w[j] + k * L::kBytes, k1 - k);
    fma_part<L>(acc, x, k, k1 - k, wv);
  }
}

// One MR x NR tile of the dot form without scales: acc[i][j] = Σ_k x[m0 + i, k] · W(n0 + j, k).
// Tiles are never inlined into the drivers: each gets the whole register file for its inner loop.
template <int MR, int NR, class L>
[[gnu::noinline]] void dot_tile(const DotGemm& g, int64_t m0, int64_t n0) {
  using Vec = typename L::Vec;
  Vec acc[MR][NR];
  zero_tile<L>(acc);
  const float* x[MR];
  const uint8_t* w[NR];
  dot_operands(g, m0, n0, x, w);
  dot_span<L>(acc, x, w, 0, g.K);
  L::template store_tile<MR, NR>(acc, g.alpha, g.out, g.ldo, m0, n0);
}

// The dot form without scales by dot_tile: tiles of L::kTileRows rows of x against 4 weight rows at a time.
template <class L>
void dot_driver(const DotGemm& g, int64_t n0, int64_t n1) {
  row_blocks(g.M, [&](int64_t mb, int64_t me) {
    col_tiles(stream_rows(me - mb, g.K, L::kLanes * L::kBytes), n0, n1, [&](auto nr, int64_t n) {
      row_tiles<L::kTileRows>(mb, me, [&](auto mr, int64_t m) { dot_tile<mr, nr, L>(g, m, n); });
    });
  });
}

// The scale of weight row n's block at k (· 256 for f8_e4m3, whose loads are worth value · 2^-8).
template <class L>
inline float scale_of(const DotGemm& g, int64_t n, int64_t k) {
  const float s = g.wscale[n][k / g.bk];
  return L::kFp8 ? s * 256.0f : s;
}

// One MR x NR tile of the dot form for weights with a scale per bk values along K (bk a multiple of kLanes,
// or K within one block), summed per scale block: part = Σ x · w over the block's vectors in order, then
// total = fma(part, scale, total) in block order (one multiply per block, not one per weight vector): i8 (GGUF
// Q8_0's 32-blocks), and block-scaled f32, bf16, f16 and (without VBMI) f8_e4m3. A single weight row (NR = 1, the decode stream) keeps kBlocks blocks in flight as
// independent chains: the same operations per output, so results do not depend on the tile or on M.
template <int MR, int NR, class L>
[[gnu::noinline]] void dot_tile_blocks(const DotGemm& g, int64_t m0, int64_t n0) {
  using Vec = typename L::Vec;
  constexpr int kLanes = L::kLanes;
  Vec total[MR][NR];
  zero_tile<L>(total);
  const float* x[MR];
  const uint8_t* w[NR];
  dot_operands(g, m0, n0, x, w);
  const int64_t K = g.K, bk = g.bk < K ? g.bk : K;
  int64_t k0 = 0;
  if constexpr (NR == 1) {
    constexpr int kBlocks = 4;
    if (bk % kLanes == 0)
      for (; k0 + kBlocks * bk <= K; k0 += kBlocks * bk) {
        Vec p[MR][kBlocks];
        zero_tile<L>(p);
        for (int64_t kk = 0; kk < bk; kk += kLanes) {
#pragma GCC unroll 4
          for (int b = 0; b < kBlocks; b++) {
            const int64_t k = k0 + b * bk + kk;
            const Vec wv = L::load(w[0] + k * L::kBytes);
#pragma GCC unroll 4
            for (int i = 0; i < MR; i++) p[i][b] = L::fmadd(L::loadu(x[i] + k), wv, p[i][b]);
          }
        }
        for (int b = 0; b < kBlocks; b++) {
          const Vec c = L::set1(scale_of<L>(g, n0, k0 + b * bk));
          for (int i = 0; i < MR; i++) total[i][0] = L::fmadd(p[i][b], c, total[i][0]);
        }
      }
  }
  for (; k0 < K; k0 += bk) {
    const int64_t k1 = k0 + bk < K ? k0 + bk : K;
    Vec part[MR][NR];
    zero_tile<L>(part);
    dot_span<L>(part, x, w, k0, k1);
    for (int j = 0; j < NR; j++) {
      const Vec c = L::set1(scale_of<L>(g, n0 + j, k0));
      for (int i = 0; i < MR; i++) total[i][j] = L::fmadd(part[i][j], c, total[i][j]);
    }
  }
  L::template store_tile<MR, NR>(total, g.alpha, g.out, g.ldo, m0, n0);
}

// The dot form by dot_tile_blocks: pairs of rows of x against 4 weight rows, or single weight rows for decode
// (kBlocks chains of kLanes weights per FMA latency when K holds 4 blocks).
template <class L>
void dot_driver_blocks(const DotGemm& g, int64_t n0, int64_t n1) {
  const bool blocks = g.bk % L::kLanes == 0 && g.K >= 4 * g.bk;
  row_blocks(g.M, [&](int64_t mb, int64_t me) {
    col_tiles(stream_rows(me - mb, g.K, L::kLanes * L::kBytes * (blocks ? 4 : 1)), n0, n1, [&](auto nr, int64_t n) {
      row_tiles<2>(mb, me, [&](auto mr, int64_t m) { dot_tile_blocks<mr, nr, L>(g, m, n); });
    });
  });
}

using DotKernel = void (*)(const DotGemm& g, int64_t n0, int64_t n1);

// The dot form by the weights' dtype, on an ISA's load traits of each and its own kernels for unscaled
// bf16 and for f8_e4m3; i8 summed per scale block (dot_tile_blocks); the portable kernel where a scale block
// ends inside a vector, for unscaled i8 and for other dtypes.
template <class F32, class Bf16, class F16, class I8, DotKernel kBf16Unscaled, DotKernel kFp8>
void dot_by_dtype(const DotGemm& g, int64_t n0, int64_t n1) {
  const bool scaled = g.wscale != nullptr;
  if (scaled && g.bk % F32::kLanes != 0 && g.bk < g.K) return gemm_portable().dot(g, n0, n1);
  switch (g.wdtype) {
    case DType::f32:
      return scaled ? dot_driver_blocks<F32>(g, n0, n1) : dot_driver<F32>(g, n0, n1);
    case DType::bf16:
      return scaled ? dot_driver_blocks<Bf16>(g, n0, n1) : kBf16Unscaled(g, n0, n1);
    case DType::f16:
      return scaled ? dot_driver_blocks<F16>(g, n0, n1) : dot_driver<F16>(g, n0, n1);
    case DType::f8_e4m3:
      return kFp8(g, n0, n1);
    case DType::i8:
      if (!scaled) break;
      return dot_driver_blocks<I8>(g, n0, n1);
    default:
      break;
  }
  gemm_portable().dot(g, n0, n1);
}

// One MR x (NV · kLanes) tile of the axpy form at column n; the last vector holds `last` lanes
// (L::kLanes: all; fewer only where the ISA masks).
template <int MR, int NV, class L>
[[gnu::noinline]] void axpy_tile(const AxpyGemm& g, int64_t m0, int64_t n, int64_t last) {
  using Vec = typename L::Vec;
  constexpr int kLanes = L::kLanes;
  const float* a[MR];
  tile_rows(a, g.a, g.lda, m0);
  const uint8_t* const* b = g.b;
  const int64_t K = g.K, offset = n * L::kBytes;
  // The whole tile once per kind (all vectors full, or the last one partial), with K and b in registers: with
  // one loop testing `full` and re-reading g.K, GCC stored the accumulators to memory every iteration (small's
  // MLA absorption, 16 × [32, 64] · [64, 128], ran at 95 GFLOP/s on 2 cores, now about 250).
  const auto run = [&](auto full) {
    Vec acc[MR][NV];
    zero_tile<L>(acc);
    for (int64_t k = 0; k < K; k++) {
      const uint8_t* row = b[k] + offset;
      Vec bv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++)
        bv[v] = (!full && v == NV - 1) ? load_part<L>(row + v * kLanes * L::kBytes, last)
                                       : L::load(row + v * kLanes * L::kBytes);
#pragma GCC unroll 4
      for (int i = 0; i < MR; i++) {
        Vec av = L::set1(a[i][k]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = L::fmadd(av, bv[v], acc[i][v]);
      }
    }
    // Fp8 loads widen to value · 2^-8: the 256 goes into alpha (exact).
    Vec alpha = L::set1(L::kFp8 ? g.alpha * 256.0f : g.alpha);
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) {
      float* o = g.out + (m0 + i) * g.ldo + n;
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) {
        Vec r = L::mul(acc[i][v], alpha);
        if (!full && v == NV - 1)
          store_part<L>(o + v * kLanes, last, r);
        else
          L::storeu(o + v * kLanes, r);
      }
    }
  };
  if (!L::kMasked || last == kLanes)
    run(std::true_type{});
  else
    run(std::false_type{});
}

// Every row of a, 4 at a time, against NV vectors of b's columns from n.
template <int NV, class L>
void axpy_rows(const AxpyGemm& g, int64_t n, int64_t last) {
  row_tiles<4>(0, g.M, [&](auto mr, int64_t m) { axpy_tile<mr, NV, L>(g, m, n, last); });
}

// The axpy form: tiles of L::kAxpyVectors vectors of columns, then the N tail in one tile with its
// last vector masked where the ISA masks, else on the portable kernel.
template <class L>
void axpy_driver(const AxpyGemm& g, int64_t n0, int64_t n1) {
  constexpr int kVectors = L::kAxpyVectors;
  int64_t n = n0;
  for (; n + kVectors * L::kLanes <= n1; n += kVectors * L::kLanes) axpy_rows<kVectors, L>(g, n, L::kLanes);
  const int64_t rest = n1 - n;
  if (rest <= 0) return;
  if constexpr (L::kMasked) {
    const int64_t vectors = (rest + L::kLanes - 1) / L::kLanes;
    with_count<kVectors>(vectors, [&](auto nv) { axpy_rows<nv, L>(g, n, rest - (vectors - 1) * L::kLanes); });
  } else {
    gemm_portable().axpy(g, n, n1);
  }
}

// The axpy form by b's dtype, on an ISA's load traits of each; the portable kernel for other dtypes.
template <class F32, class Bf16, class F16, class Fp8>
void axpy_by_dtype(const AxpyGemm& g, int64_t n0, int64_t n1) {
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
