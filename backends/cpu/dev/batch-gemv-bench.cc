// Microbenchmark of the bf16 decode GEMV at batch 8 (the `linear` of a batch-8 step: its time is about the sum
// of the weights' stream time and the vdpbf16ps time, not the larger of the two): small's lm_head, bf16
// [32000, 1024] (65.5 MB, read from memory), against M = 8 rows of x (16 KB, in L1), on T threads. Each output
// is one vdpbf16ps accumulator over K in order (the bits of gemm-avx512bf16.cc's tiles), so every variant is
// checked bit for bit against the shipped one, then the variants are timed in alternation (median of 15
// rounds, each variant once per round, this VM's phases moving all alike):
//   4x4      the shipped tiles: 4 weight rows against rows 0-3 of x, then against rows 4-7, one line per row
//            prefetched 8 KB ahead during the first;
//   8x2      all 8 rows of x against 2 weight rows, one line per row 8 KB ahead;
//   8x1      all 8 rows of x against one weight row (one sequential stream), no prefetch, or one line P bytes
//            ahead per step (P = 2, 4, 8 KB);
//   seq2     8x1 over two rows one after the other, the 16 sums reduced at once;
//   compute  4x4 over the first 256 rows again and again (weights from L2): the vdpbf16ps ceiling;
//   read     a plain read of the weights: the memory ceiling.
//   8x1 / 8x2 T1, T2, NTA: the prefetch into L2 or non-temporal instead of L1;
//   4x4 / 8x2 T1 16K: 4x4 and 8x2 asking 16 KB ahead into L2 from the first row tile (gemm-tiles.h,
//            kWeightsAheadL2);
//   1x1      one row of x against one weight row (the batch-1 GEMV's single-row stream);
//   ... 2M   the same on a second copy of the weights on 2 MB transparent huge pages (madvise).
// Build (one line, from the repository root; x86-64 with AVX-512 BF16):
//   g++ -O3 -std=c++17 -march=native -pthread -o /tmp/batch-gemv-bench backends/cpu/dev/batch-gemv-bench.cc
// then run: /tmp/batch-gemv-bench [threads]   (default 2)
// Measured and dropped (session 14, the 2-core Zen 5 VM of docs/benchmarks.md), four runs: compute 0.92-0.96 ms,
// read 1.16-1.62 ms (the VM's phases), so at batch 8 the vdpbf16ps time is about the stream time; the shipped
// 4x4 1.65-1.98 ms, 8x2 1.50-1.80, 8x1 1.56-2.76 (no prefetch) and 1.51-1.93 (8 KB), the L2 and non-temporal
// prefetches 1.51-1.81, seq2 2.9-3.4. No variant reaches the larger of the two times; the best ones gain 5-15%
// here, and inside the engine (8x2, 8x1 and 8x1 with a 4 KB prefetch behind a switch in one binary, 3 rounds of
// `dsa bench --batch 8`) `linear` per step moved 4.5-7.6 ms for every variant alike, so none was shipped.
// Session 15: 2 MB pages (AnonHugePages 64 MB) change nothing: 4x4 2.21 against 2.28 ms, 1x1 1.59 against 1.62,
// read 1.56 against 1.57.
// Session 24, the 2-core Zen 4 EPYC (32 MiB L3), three runs: 4x4 4.0-4.2 ms, 4x4 T1 16K 2.7-3.3, 8x2 T1 16K
// 1.8-2.4, 8x2 T1 8K 1.8-2.3, 8x1 T1 16K 2.2-2.4, read 1.7-2.4 (the VM's phases), compute 1.4-1.6; 2 MB pages
// 5-20% faster (read 1.89 against 2.28 ms). The engine took the L2 prefetch (kWeightsAheadL2) and, in the bf16
// precision, 8x2 tiles for up to 8 rows of x.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <sys/mman.h>

#include "../native/reduce-add16-avx512.h"
#include "bf16-tile-bench.h"
#include "lm-head-bench.h"

namespace {

using lm_head_bench::K;
using lm_head_bench::N;
constexpr int64_t kSteps = K / 32, M = 8;

uint16_t* weights;  // [N, K]: the copy a variant reads (weights_4k or weights_2m)
uint16_t* weights_4k;
uint16_t* weights_2m;
uint16_t* x;        // [M, K]
float* out;         // [M, N]

inline __m512bh load(const uint16_t* p) { return (__m512bh)_mm512_loadu_si512(p); }

// Rows [m0, m0 + MR) of x against weight rows [n, n + NR) (rows wrap at `rows`): each output one accumulator.
template <int MR, int NR, int kPrefetchBytes, int kHint = _MM_HINT_T0>
inline void tile(int64_t n, int m0, int64_t rows) {
  lm_head_bench::bf16_tile<MR, NR, kPrefetchBytes, kHint>(weights, x, out, n, m0, rows);
}

// Tiles of 4 weight rows against rows 0-3 of x, then 4-7 (weight rows wrap at kRows); prefetch as tile's.
template <int64_t kRows, int P = 8192, int H = _MM_HINT_T0>
void g4x4(int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n += 4) {
    tile<4, 4, P, H>(n, 0, kRows);
    tile<4, 4, P, H>(n, 4, kRows);
  }
}

// All 8 rows of x against 2 weight rows at a time.
template <int P = 8192, int H = _MM_HINT_T0>
void g8x2(int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n += 2) tile<8, 2, P, H>(n, 0, N);
}

template <int P, int H = _MM_HINT_T0>
void g8x1(int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n++) tile<8, 1, P, H>(n, 0, N);
}

// Two weight rows one after the other (one stream), all 8 rows of x each, the 16 sums reduced at once.
template <int P>
void gseq2(int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n += 2) {
    __m512 acc[16];
#pragma GCC unroll 2
    for (int j = 0; j < 2; j++) {
      const uint16_t* w = weights + (n + j) * K;
      __m512 a[M];
      for (int i = 0; i < M; i++) a[i] = _mm512_setzero_ps();
      for (int64_t s = 0; s < kSteps; s++) {
        const __m512bh wv = load(w + s * 32);
        if (P > 0) _mm_prefetch(reinterpret_cast<const char*>(w + s * 32) + P, _MM_HINT_T0);
#pragma GCC unroll 8
        for (int i = 0; i < M; i++) a[i] = _mm512_dpbf16_ps(a[i], load(x + i * K + s * 32), wv);
      }
      for (int i = 0; i < M; i++) acc[8 * j + i] = a[i];
    }
    alignas(64) float sums[16];
    _mm512_store_ps(sums, dsa::reduce_add16_rows(acc));
    for (int j = 0; j < 2; j++)
      for (int i = 0; i < M; i++) out[i * N + n + j] = sums[8 * j + i];
  }
}

template <int P>
void read_only(int64_t n0, int64_t n1) {
  __m512i sum = _mm512_setzero_si512();
  for (int64_t i = n0 * K; i < n1 * K; i += 32) {
    if (P > 0) _mm_prefetch(reinterpret_cast<const char*>(weights + i) + P, _MM_HINT_T0);
    sum = _mm512_xor_si512(sum, _mm512_loadu_si512(weights + i));
  }
  out[n0] = static_cast<float>(_mm512_reduce_add_epi32(sum));
}

void g1x1(int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n++) tile<1, 1, 0>(n, 0, N);
}

using Fn = void (*)(int64_t, int64_t);

// A variant: its kernel, and whether it reads the copy on 2 MB pages.
struct Variant {
  const char* name;
  Fn f;
  bool huge = false;
};

bool same_bits(const Variant& v, const std::vector<float>& expected) {
  weights = v.huge ? weights_2m : weights_4k;
  std::memset(out, 0, sizeof(float) * M * N);
  v.f(0, N);
  return std::memcmp(out, expected.data(), sizeof(float) * M * N) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const size_t bytes = N * K * 2, huge = size_t{2} << 20, rounded = (bytes + huge - 1) / huge * huge;
  weights = weights_4k = static_cast<uint16_t*>(std::aligned_alloc(64, bytes));
  weights_2m = static_cast<uint16_t*>(std::aligned_alloc(huge, rounded));
  if (madvise(weights_2m, rounded, MADV_HUGEPAGE) != 0) std::perror("madvise");
  x = static_cast<uint16_t*>(std::aligned_alloc(64, M * K * 2));
  out = static_cast<float*>(std::aligned_alloc(64, M * N * 4));
  uint32_t seed = 1;
  auto bf16 = [&] { return lm_head_bench::random_bf16(seed); };
  for (int64_t i = 0; i < N * K; i++) weights_2m[i] = weights[i] = bf16();
  for (int64_t i = 0; i < M * K; i++) x[i] = bf16();

  const Variant variants[] = {{"4x4", g4x4<N>},        {"8x2", g8x2<>},           {"8x1", g8x1<0>},
                              {"8x1 p2K", g8x1<2048>}, {"8x1 p4K", g8x1<4096>}, {"8x1 p8K", g8x1<8192>}, {"8x1 p16K", g8x1<16384>},
                              {"8x1 T1 8K", g8x1<8192, _MM_HINT_T1>}, {"8x1 T2 8K", g8x1<8192, _MM_HINT_T2>},
                              {"8x1 T1 16K", g8x1<16384, _MM_HINT_T1>}, {"8x1 NTA 8K", g8x1<8192, _MM_HINT_NTA>},
                              {"8x2 T1 8K", g8x2<8192, _MM_HINT_T1>}, {"8x2 T1 16K", g8x2<16384, _MM_HINT_T1>},
                              {"4x4 2M", g4x4<N>, true},
                              {"4x4 T1 16K", g4x4<N, 16384, _MM_HINT_T1>},
                              {"4x4 T1 16K 2M", g4x4<N, 16384, _MM_HINT_T1>, true},
                              {"8x2 T1 16K 2M", g8x2<16384, _MM_HINT_T1>, true},
                              // Not checked against 4x4 (other outputs or none):
                              {"compute", g4x4<256>}, {"read", read_only<0>}, {"read p8K", read_only<8192>},
                              {"1x1", g1x1}, {"1x1 2M", g1x1, true}, {"read 2M", read_only<0>, true}};
  constexpr int kVariants = sizeof(variants) / sizeof(variants[0]), kUnchecked = 6;
  g4x4<N>(0, N);
  const std::vector<float> expected(out, out + M * N);
  bool ok = true;
  for (int v = 1; v < kVariants - kUnchecked; v++) {
    const bool same = same_bits(variants[v], expected);
    if (!same) std::printf("%s: NOT the same bits\n", variants[v].name);
    ok = ok && same;
  }
  std::printf("variants agree bit for bit: %s\n", ok ? "yes" : "NO");
  std::vector<std::vector<double>> times(kVariants);
  for (int round = 0; round < 15; round++)
    for (int v = 0; v < kVariants; v++) {
      weights = variants[v].huge ? weights_2m : weights_4k;
      times[v].push_back(lm_head_bench::time_once(variants[v].f, threads));
    }
  const double mb = N * K * 2 / 1e6, gflop = 2.0 * M * N * K / 1e9;
  for (int v = 0; v < kVariants; v++) {
    std::sort(times[v].begin(), times[v].end());
    const double ms = times[v][times[v].size() / 2];
    std::printf("%-9s %.3f ms  %5.1f GB/s  %5.0f GFLOP/s\n", variants[v].name, ms, mb / ms, gflop / ms * 1e3);
  }
  return ok ? 0 : 1;
}
