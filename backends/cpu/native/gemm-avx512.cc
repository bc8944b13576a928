// AVX-512 GEMM kernels (16 f32 lanes, 32 registers). Weights are widened to f32 in registers:
// bf16 two per 32-bit lane (a shift for the even one, a mask for the odd one), f16 by vcvtph2ps,
// f8_e4m3 by table lookup with AVX512-VBMI (fp8-avx512.h; block scale once per 128-block), else by
// moving its bits into an f16 (value · 2^-8), vcvtph2ps and one multiply by 256 · block scale.
// Nothing is dequantized to memory.
// Compiled for the avx512 target through the pragma below; callers check the CPU first.
// GCC 12 reports its own _mm512_undefined_* idiom as "may be used uninitialized".
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <vector>

#include "gemm.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")
#include "fp8-avx512.h"
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")

#include "gemm-tiles.h"
#include "reduce-add16-avx512.h"
#include "widen-avx512.h"

namespace dsa {
namespace {

// 16 f32 lanes, 32 registers: tiles of up to 4 rows of x; K and N tails by masked loads and stores.
struct Avx512 {
  using Vec = __m512;
  static constexpr int kLanes = 16;
  static constexpr bool kMasked = true;
  static constexpr int kTileRows = 4;
  static constexpr int kAxpyVectors = 4;
  static __mmask16 mask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec loadu(const float* p) { return _mm512_loadu_ps(p); }
  static Vec loadu(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
  static void storeu(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static void storeu(float* p, __mmask16 m, Vec v) { _mm512_mask_storeu_ps(p, m, v); }
  static Vec set1(float s) { return _mm512_set1_ps(s); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static float hsum(Vec v) { return _mm512_reduce_add_ps(v); }
  // A 4 x 4 tile reduces all 16 accumulators at once, with the same bits as one reduction per
  // accumulator: a result does not depend on the tile it falls in.
  template <int MR, int NR>
  static void store_tile(const Vec (&acc)[MR][NR], float alpha, float* out, int64_t ldo, int64_t m0, int64_t n0) {
    if constexpr (MR == 4 && NR == 4) {
      store_sums_4x4(&acc[0][0], alpha, out + m0 * ldo + n0, ldo);
    } else {
      store_sums<Avx512, MR, NR>(acc, alpha, out, ldo, m0, n0);
    }
  }
};

struct F32 : Avx512 {
  static constexpr int kBytes = 4;
  static constexpr bool kFp8 = false;
  static __m512 load(const uint8_t* p) { return _mm512_loadu_ps(reinterpret_cast<const float*>(p)); }
  static __m512 load(const uint8_t* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};
struct Bf16 : Avx512 {
  static constexpr int kBytes = 2;
  static constexpr bool kFp8 = false;
  static __m512 widen(__m256i v) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16)); }
  static __m512 load(const uint8_t* p) { return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static __m512 load(const uint8_t* p, __mmask16 m) { return widen(_mm256_maskz_loadu_epi16(m, p)); }
};
struct F16 : Avx512 {
  static constexpr int kBytes = 2;
  static constexpr bool kFp8 = false;
  static __m512 load(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static __m512 load(const uint8_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
};
// f8_e4m3 loads are worth value · 2^-8 (widen_e4m3_x2p8): kFp8 folds the 256 into the block scale.
struct Fp8 : Avx512 {
  static constexpr int kBytes = 1;
  static constexpr bool kFp8 = true;
  static __m512 load(const uint8_t* p) { return widen_e4m3_x2p8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static __m512 load(const uint8_t* p, __mmask16 m) { return widen_e4m3_x2p8(_mm_maskz_loadu_epi8(m, p)); }
};

// i8 (GGUF Q8_0 quants; the f16 block scale of every 32 is applied as a block scale), exact.
struct I8 : Avx512 {
  static constexpr int kBytes = 1;
  static constexpr bool kFp8 = false;
  static __m512 load(const uint8_t* p) { return widen_i8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static __m512 load(const uint8_t* p, __mmask16 m) { return widen_i8(_mm_maskz_loadu_epi8(m, p)); }
};

// g over the rows [mb, me) of x, those rows copied by pack (row stride K) into this thread's buffer.
DotGemm packed_rows(const DotGemm& g, int64_t mb, int64_t me, void (*pack)(const DotGemm&, int64_t, int64_t, float*)) {
  thread_local std::vector<float> packed;
  if (packed.size() < static_cast<size_t>((me - mb) * g.K)) packed.resize(static_cast<size_t>((me - mb) * g.K));
  pack(g, mb, me, packed.data());
  DotGemm block = g;
  block.x = packed.data();
  block.ldx = g.K;
  block.out = g.out + mb * g.ldo;
  return block;
}

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi")

// Rows [m0, m1) of x into `packed` (row stride K): every full 64-block in fp8_widen64's element order
// (vector v, lane d: element 16·(d / 4) + 8·(v / 2) + 2·(d % 4) + v % 2); the tail (K mod 64) unchanged.
void pack_fp8(const DotGemm& g, int64_t m0, int64_t m1, float* packed) {
  for (int64_t m = m0; m < m1; m++) {
    const float* src = g.x + m * g.ldx;
    float* dst = packed + (m - m0) * g.K;
    int64_t k = 0;
    for (; k + 64 <= g.K; k += 64)
      for (int v = 0; v < 4; v++)
        for (int d = 0; d < 16; d++) dst[k + v * 16 + d] = src[k + fp8_widen64_element(v, d)];
    for (; k < g.K; k++) dst[k] = src[k];
  }
}

// Avx512::store_tile for a tile whose weight rows are n0 + j · step (quarter_tiles): the same bits, one horizontal
// sum per accumulator.
template <int MR, int NR>
inline void store_tile_step(const __m512 (&acc)[MR][NR], const DotGemm& g, int64_t m0, int64_t n0, int64_t step) {
  if (step == 1) return Avx512::store_tile<MR, NR>(acc, g.alpha, g.out, g.ldo, m0, n0);
  store_sums<Avx512, MR, NR>(acc, g.alpha, g.out, g.ldo, m0, n0, step);
}

// f8_e4m3 tile (x packed by pack_fp8): within a scale block the exact weights are accumulated, and the
// block's scale is applied once per block to the accumulators. The same code for every MR.
template <int MR, int NR>
[[gnu::noinline]] void dot_tile_fp8(const DotGemm& g, const Fp8Table& t, int64_t m0, int64_t n0, int64_t step) {
  __m512 total[MR][NR], part[MR][NR];
  zero_tile<Avx512>(total);
  const float* x[MR];
  const uint8_t* w[NR];
  dot_operands(g, m0, n0, x, w, step);
  const int64_t K = g.K;
  const int64_t segment = g.wscale != nullptr ? g.bk : K;
  const int64_t full = K - K % 64;
  int64_t k0 = 0;
  if constexpr (NR == 1) {
    // One weight row (the decode stream, see stream_rows): kBlocks scale blocks in flight, each its own
    // accumulator chain in the order the block loop below uses, added into total in block order: the same
    // operations per output, with kBlocks times the independent FMAs a single chain would have.
    constexpr int kBlocks = 4;
    if (g.wscale != nullptr && segment % 64 == 0) {
      for (; k0 + kBlocks * segment <= full; k0 += kBlocks * segment) {
        __m512 p[MR][kBlocks];
        zero_tile<Avx512>(p);
        for (int64_t kk = 0; kk < segment; kk += 64) {
#pragma GCC unroll 4
          for (int b = 0; b < kBlocks; b++) {
            const int64_t k = k0 + b * segment + kk;
            __m512 f[4];
            fp8_widen64(t, w[0] + k, f);
#pragma GCC unroll 4
            for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
              for (int v = 0; v < 4; v++) p[i][b] = _mm512_fmadd_ps(_mm512_loadu_ps(x[i] + k + 16 * v), f[v], p[i][b]);
          }
        }
        for (int b = 0; b < kBlocks; b++) {
          const __m512 c = _mm512_set1_ps(g.wscale[n0][(k0 + b * segment) / g.bk]);
          for (int i = 0; i < MR; i++) total[i][0] = _mm512_fmadd_ps(p[i][b], c, total[i][0]);
        }
      }
    }
  }
  for (; k0 < K; k0 += segment) {
    const int64_t k1 = k0 + segment < K ? k0 + segment : K;
    zero_tile<Avx512>(part);
    int64_t k = k0;
    for (; k + 64 <= k1 && k + 64 <= full; k += 64) {
      __m512 f[NR][4];
#pragma GCC unroll 4
      for (int j = 0; j < NR; j++) {
        fp8_widen64(t, w[j] + k, f[j]);
        _mm_prefetch(reinterpret_cast<const char*>(w[j] + k) + kWeightsAheadL2, _MM_HINT_T1);
      }
#pragma GCC unroll 4
      for (int i = 0; i < MR; i++) {
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) {
          __m512 xv = _mm512_loadu_ps(x[i] + k + 16 * v);
#pragma GCC unroll 4
          for (int j = 0; j < NR; j++) part[i][j] = _mm512_fmadd_ps(xv, f[j][v], part[i][j]);
        }
      }
    }
    const __m512 c256 = _mm512_set1_ps(256.0f);
    for (; k < k1; k += 16) {
      const int64_t rest = k1 - k < 16 ? k1 - k : 16;
      __m512 wv[NR];
      for (int j = 0; j < NR; j++) wv[j] = _mm512_mul_ps(load_part<Fp8>(w[j] + k, rest), c256);
      fma_part<Fp8>(part, x, k, rest, wv);
    }
    for (int j = 0; j < NR; j++) {
      __m512 c = _mm512_set1_ps(g.wscale != nullptr ? g.wscale[n0 + j * step][k0 / g.bk] : 1.0f);
      for (int i = 0; i < MR; i++) total[i][j] = _mm512_fmadd_ps(part[i][j], c, total[i][j]);
    }
  }
  store_tile_step<MR, NR>(total, g, m0, n0, step);
}

void dot_driver_fp8(const DotGemm& g, int64_t n0, int64_t n1) {
  static const Fp8Table table;
  row_blocks(g.M, [&](int64_t mb, int64_t me) {
    const DotGemm block = packed_rows(g, mb, me, pack_fp8);
    // Pairs of rows of x against 4 weight rows at a time; for decode where 4 scale blocks can be in flight (64
    // weight bytes per FMA latency; 16 with one chain), 4-row tiles over the quarters of the columns (4 long
    // streams per thread, quarter_tiles); every output is computed by the same sequence of operations whatever
    // the tile, so results do not depend on M.
    const bool blocks = g.wscale != nullptr && g.bk % 64 == 0 && g.K >= 4 * g.bk;
    const auto tile = [&](auto nr, int64_t n, int64_t step) {
      row_tiles<2>(0, me - mb, [&](auto mr, int64_t m) { dot_tile_fp8<mr, nr>(block, table, m, n, step); });
    };
    stream_tiles(stream_rows(me - mb, g.K, blocks ? 64 : 16), n0, n1, tile);
  });
}

#pragma GCC pop_options

// bf16 tile, two weights per 32-bit lane: one 64-byte load holds 32 weights; the even ones widen by a
// 16-bit shift, the odd ones by masking off the low half. x comes pre-permuted per 32-block (see
// pack_pairs): its 16 even elements, then its 16 odd ones. The per-row summation order is the same
// for every MR, so results do not depend on how many rows are computed together.
template <int MR, int NR>
[[gnu::noinline]] void dot_tile_bf16_pairs(const DotGemm& g, int64_t m0, int64_t n0, int64_t step) {
  __m512 acc[MR][NR];
  zero_tile<Avx512>(acc);
  const float* x[MR];
  const uint8_t* w[NR];
  dot_operands(g, m0, n0, x, w, step);
  const int64_t K = g.K;
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) {
    __m512 even[NR], odd[NR];
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) {
      __m512i v = _mm512_loadu_si512(w[j] + k * 2);
      // 4-row tiles (and decode's 4 quarter streams): each row's line kWeightsAheadL2 on into L2 (gemm-tiles.h).
      // Single rows stream sequentially, which the hardware follows better without it.
      if (NR > 1) _mm_prefetch(reinterpret_cast<const char*>(w[j] + k * 2) + kWeightsAheadL2, _MM_HINT_T1);
      even[j] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
      odd[j] = _mm512_castsi512_ps(_mm512_and_si512(v, high));
    }
    fma_two<Avx512>(acc, x, k, even, odd);
  }
  for (; k < K; k += 16) {
    const int64_t rest = K - k < 16 ? K - k : 16;
    __m512 wv[NR];
    for (int j = 0; j < NR; j++) wv[j] = load_part<Bf16>(w[j] + k * 2, rest);
    fma_part<Bf16>(acc, x, k, rest, wv);
  }
  store_tile_step<MR, NR>(acc, g, m0, n0, step);
}

// Rows [m0, m1) of x into `packed` (row stride K): each full 32-block as its 16 even then its 16 odd
// elements; the tail (K mod 32) unchanged.
void pack_pairs(const DotGemm& g, int64_t m0, int64_t m1, float* packed) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  for (int64_t m = m0; m < m1; m++) {
    const float* src = g.x + m * g.ldx;
    float* dst = packed + (m - m0) * g.K;
    int64_t k = 0;
    for (; k + 32 <= g.K; k += 32) {
      __m512 a = _mm512_loadu_ps(src + k), b = _mm512_loadu_ps(src + k + 16);
      _mm512_storeu_ps(dst + k, _mm512_permutex2var_ps(a, even, b));
      _mm512_storeu_ps(dst + k + 16, _mm512_permutex2var_ps(a, odd, b));
    }
    for (; k < g.K; k++) dst[k] = src[k];
  }
}

void dot_driver_bf16_pairs(const DotGemm& g, int64_t n0, int64_t n1) {
  row_blocks(g.M, [&](int64_t mb, int64_t me) {
    const DotGemm block = packed_rows(g, mb, me, pack_pairs);
    // Decode (x in L1): 4-row tiles over the quarters of the columns (quarter_tiles); else adjacent 4-row tiles.
    const auto tile = [&](auto nr, int64_t n, int64_t step) {
      row_tiles<4>(0, me - mb, [&](auto mr, int64_t m) { dot_tile_bf16_pairs<mr, nr>(block, m, n, step); });
    };
    stream_tiles(stream_rows(me - mb, g.K, 32), n0, n1, tile);
  });
}

// f8_e4m3: the table path needs scale blocks of whole 64-blocks (checkpoints use 128) and AVX512-VBMI.
void dot_fp8(const DotGemm& g, int64_t n0, int64_t n1) {
  if (g.wscale == nullptr || g.bk % 64 == 0 || g.bk >= g.K) {
    if (__builtin_cpu_supports("avx512vbmi")) return dot_driver_fp8(g, n0, n1);
  }
  dot_driver_blocks<Fp8>(g, n0, n1);
}

}  // namespace
}  // namespace dsa

#pragma GCC pop_options

namespace dsa {
const GemmKernels& gemm_avx512() {
  static const GemmKernels kernels{"avx512", dot_by_dtype<F32, Bf16, F16, I8, dot_driver_bf16_pairs, dot_fp8>,
                                          axpy_by_dtype<F32, Bf16, F16, Fp8>};
  return kernels;
}
}  // namespace dsa
