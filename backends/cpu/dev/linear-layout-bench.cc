// Microbenchmark of the bf16 decode GEMV's weight layout (the lever left for `linear` at batch 8): small's
// lm_head, bf16 [32000, 1024] (65.5 MB, read from memory), against M = 1 and M = 8 rows of x, on T threads,
// each output one vdpbf16ps accumulator over K in order (the bits of gemm-avx512bf16.cc's tiles):
//   rows      the checkpoint's layout, 4 x 4 tiles (4 rows of x, 4 weight rows) with one line prefetched 8 KB
//             ahead per weight row, as dot_tile_bf16 ships (M = 1: one weight row at a time, no prefetch);
//   tiles     the same tiles over a repacked layout: per group of 4 weight rows, their 64-byte chunks of 32
//             elements side by side (256 bytes per K step), so a tile reads one sequential stream; prefetch
//             0, 4, 8 or 16 KB ahead (every line).
// Each variant is checked against the rows layout's outputs (bit for bit), then timed (median of 15 passes)
// beside a plain read of the same bytes, and the two layouts paired (median ratio of 21 alternating rounds).
// Build (one line, from the repository root; x86-64 with AVX-512 BF16):
//   g++ -O3 -std=c++17 -march=native -pthread -o /tmp/linear-layout-bench backends/cpu/dev/linear-layout-bench.cc
// then run: /tmp/linear-layout-bench [threads]   (default 2)
// Measured and dropped (session 13, the 2-core Zen VM of docs/benchmarks.md): the repacked layout is no faster.
// Paired, tiles / rows, four runs: M = 8 (8 KB prefetch) 1.03, 1.24, 1.06, 1.18 (4 KB: 1.06, 1.24, 0.99, 1.07);
// M = 1 against the shipped single-row stream 0.92, 0.87, 1.06, 1.07; and the rows layout's own 4-row tiles at
// M = 1 against that stream: 1.01 and 1.06 with the 8 KB prefetch, 1.19 and 1.25 without. Unpaired medians swing
// 10-20% with the VM's phases (a first, unpaired run read the tiles 15-20% faster at M = 8).
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "lm-head-bench.h"

namespace {

using lm_head_bench::K;
using lm_head_bench::N;
using lm_head_bench::time_once;
constexpr int64_t kSteps = K / 32;

uint16_t* weights_rows;   // [N, K]
uint16_t* weights_tiles;  // [N / 4][kSteps][4][32]
uint16_t* x;              // [8, K]
float* out;               // [8, N]

inline __m512bh load(const uint16_t* p) { return (__m512bh)_mm512_loadu_si512(p); }

// Weight row n + j's chunk at step s, in either layout.
template <bool kTiles>
inline const uint16_t* chunk(int64_t n, int j, int64_t s) {
  if constexpr (kTiles) return weights_tiles + (((n / 4) * kSteps + s) * 4 + j) * 32;
  return weights_rows + (n + j) * K + s * 32;
}

// Rows [m0, m0 + MR) of x against weight rows [n, n + 4): every output one accumulator over K in order.
template <bool kTiles, int MR, int kPrefetchBytes>
void tile(int64_t n, int m0) {
  __m512 acc[MR][4];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
  for (int64_t s = 0; s < kSteps; s++) {
    __m512bh w[4];
    for (int j = 0; j < 4; j++) {
      const uint16_t* p = chunk<kTiles>(n, j, s);
      w[j] = load(p);
      if (kPrefetchBytes > 0 && m0 == 0)
        _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
    }
    for (int i = 0; i < MR; i++) {
      const __m512bh xv = load(x + (m0 + i) * K + s * 32);
      for (int j = 0; j < 4; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], xv, w[j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < 4; j++) out[(m0 + i) * N + n + j] = _mm512_reduce_add_ps(acc[i][j]);
}

// M rows of x against weight rows [n0, n1).
template <bool kTiles, int M, int kPrefetchBytes>
void gemv(int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n += 4) {
    if constexpr (M == 1) {
      tile<kTiles, 1, kPrefetchBytes>(n, 0);
    } else {
      tile<kTiles, 4, kPrefetchBytes>(n, 0);
      tile<kTiles, 4, kPrefetchBytes>(n, 4);
    }
  }
}

// The shipped M = 1 stream: one weight row at a time, no prefetch.
void gemv_row_stream(int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n++) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t s = 0; s < kSteps; s++) acc = _mm512_dpbf16_ps(acc, load(x + s * 32), load(weights_rows + n * K + s * 32));
    out[n] = _mm512_reduce_add_ps(acc);
  }
}

void read_only(int64_t n0, int64_t n1) {
  __m512i sum = _mm512_setzero_si512();
  for (int64_t i = n0 * K; i < n1 * K; i += 32) sum = _mm512_xor_si512(sum, _mm512_loadu_si512(weights_rows + i));
  out[n0] = static_cast<float>(_mm512_reduce_add_epi32(sum));
}

// Median ms of 15 passes of f.
template <class F>
double time_ms(F f, int threads) {
  std::vector<double> times;
  for (int pass = 0; pass < 15; pass++) times.push_back(time_once(f, threads));
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Median over 21 rounds of (ms of b) / (ms of a), a and b timed one after the other in each round, the order
// flipped every round (this VM's phases move both alike).
template <class A, class B>
double paired_ratio(A a, B b, int threads) {
  std::vector<double> ratios;
  for (int round = 0; round < 21; round++) {
    double ta, tb;
    if (round % 2) {
      tb = time_once(b, threads);
      ta = time_once(a, threads);
    } else {
      ta = time_once(a, threads);
      tb = time_once(b, threads);
    }
    ratios.push_back(tb / ta);
  }
  std::sort(ratios.begin(), ratios.end());
  return ratios[ratios.size() / 2];
}

// Runs f over all rows on one thread and compares out's first `m` rows with `expected`.
template <class F>
bool same_bits(F f, int m, const std::vector<float>& expected) {
  f(0, N);
  return std::memcmp(out, expected.data(), sizeof(float) * m * N) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  weights_rows = static_cast<uint16_t*>(std::aligned_alloc(64, N * K * 2));
  weights_tiles = static_cast<uint16_t*>(std::aligned_alloc(64, N * K * 2));
  x = static_cast<uint16_t*>(std::aligned_alloc(64, 8 * K * 2));
  out = static_cast<float*>(std::aligned_alloc(64, 8 * N * 4));
  uint32_t seed = 1;
  auto bf16 = [&] { return lm_head_bench::random_bf16(seed); };
  for (int64_t i = 0; i < N * K; i++) weights_rows[i] = bf16();
  for (int64_t i = 0; i < 8 * K; i++) x[i] = bf16();
  for (int64_t n = 0; n < N; n += 4)
    for (int64_t s = 0; s < kSteps; s++)
      for (int j = 0; j < 4; j++) std::memcpy(weights_tiles + (((n / 4) * kSteps + s) * 4 + j) * 32, weights_rows + (n + j) * K + s * 32, 64);

  gemv<false, 8, 8192>(0, N);
  const std::vector<float> expected8(out, out + 8 * N);
  gemv_row_stream(0, N);
  const std::vector<float> expected1(out, out + N);
  const bool ok = same_bits(gemv<false, 1, 0>, 1, expected1) && same_bits(gemv<true, 1, 0>, 1, expected1) &&
                  same_bits(gemv<true, 8, 8192>, 8, expected8) && same_bits(gemv<true, 8, 0>, 8, expected8);
  std::printf("layouts agree bit for bit: %s\n", ok ? "yes" : "NO");
  const double mb = N * K * 2 / 1e6;
  for (int run = 0; run < 3; run++) {
    const double read = time_ms(read_only, threads);
    const double m1_rows = time_ms(gemv_row_stream, threads), m1_tiles = time_ms(gemv<true, 1, 8192>, threads);
    const double rows0 = time_ms(gemv<false, 8, 0>, threads), rows8 = time_ms(gemv<false, 8, 8192>, threads);
    const double t0 = time_ms(gemv<true, 8, 0>, threads), t4 = time_ms(gemv<true, 8, 4096>, threads);
    const double t8 = time_ms(gemv<true, 8, 8192>, threads), t16 = time_ms(gemv<true, 8, 16384>, threads);
    std::printf(
        "read %.2f ms (%.0f GB/s) | M = 1: rows %.2f, tiles %.2f | M = 8: rows %.2f (no prefetch %.2f), tiles 0 KB "
        "%.2f, 4 KB %.2f, 8 KB %.2f, 16 KB %.2f\n",
        read, mb / read, m1_rows, m1_tiles, rows8, rows0, t0, t4, t8, t16);
  }
  std::printf("paired, tiles / rows (median of 21 rounds): M = 8, 8 KB: %.3f; 4 KB: %.3f; M = 1: %.3f\n",
              paired_ratio(gemv<false, 8, 8192>, gemv<true, 8, 8192>, threads),
              paired_ratio(gemv<false, 8, 8192>, gemv<true, 8, 4096>, threads),
              paired_ratio(gemv_row_stream, gemv<true, 1, 8192>, threads));
  std::printf("paired, M = 1, 4-row tiles of the rows layout / the single-row stream: 8 KB prefetch %.3f, none %.3f\n",
              paired_ratio(gemv_row_stream, gemv<false, 1, 8192>, threads),
              paired_ratio(gemv_row_stream, gemv<false, 1, 0>, threads));
  return ok ? 0 : 1;
}
