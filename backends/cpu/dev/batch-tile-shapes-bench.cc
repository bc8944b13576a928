// Microbenchmark of the bf16 precision's dot tile shapes at a decode batch beyond L1 (32 rows by default): small's
// lm_head, bf16 [32000, 1024] (65.5 MB, from memory, or its first 240 rows per thread again and again from L2:
// the vdpbf16ps ceiling of the shape), against M rows of bf16 x, weight tile by weight tile, every row tile of x
// against each (rows of x past the last whole row tile are left out: GFLOP/s counts the rows computed). Each tile
// asks for its weight rows 16 KB ahead into L2 from its first row tile (kWeightsAheadL2, gemm-tiles.h). Shapes
// MR x NR: 4x4 (the engine's), 6x4, 4x6, 2x8, 8x2, 8x3; median of 9 rounds, each shape once per round.
// Build (one line, from the repository root; x86-64 with AVX-512 BF16):
//   g++ -O3 -std=c++17 -march=native -pthread -o /tmp/batch-tile-shapes-bench backends/cpu/dev/batch-tile-shapes-bench.cc
// then run: /tmp/batch-tile-shapes-bench [rows of x] [threads]   (default 32 2)
// Session 24, the 2-core Zen 4 EPYC (vdpbf16ps peak about 457 GFLOP/s on both cores). 32 rows: from memory 4x4 253,
// 6x4 246, 4x6 253, 2x8 269, 8x2 204, 8x3 231 GFLOP/s; from L2 340, 322, 325, 336, 289, 319 (0.63-0.74 of the peak):
// a batch-32 step is bound by the tiles' rate, not by the weights' stream. 8 rows: 8x2 253 from memory against 4x4
// 172 (the engine takes 8x2 there; dev/batch-gemv-bench.cc).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bf16-tile-bench.h"
#include "lm-head-bench.h"

namespace {

using lm_head_bench::K;
using lm_head_bench::N;
constexpr int kAhead = 16384;
constexpr int64_t kL2Rows = 240;

uint16_t* weights;  // [N, K]
uint16_t* x;        // [M, K]
float* out;         // [M, N]
int64_t M = 32;

// Rows [m0, m0 + MR) of x against weight rows [n, n + NR), asking 16 KB ahead into L2 from the first row tile.
template <int MR, int NR>
inline void tile(int64_t n, int64_t m0) {
  lm_head_bench::bf16_tile<MR, NR, kAhead, _MM_HINT_T1>(weights, x, out, n, m0, N);
}

// Weight rows [n0, n1) in tiles of NR, each against every whole row tile of MR rows of x.
template <int MR, int NR>
void shape(int64_t n0, int64_t n1) {
  for (int64_t n = n0; n + NR <= n1; n += NR)
    for (int64_t m = 0; m + MR <= M; m += MR) tile<MR, NR>(n, m);
}

// The same over the thread's first kL2Rows rows again and again (as many rows in all): weights from L2.
template <int MR, int NR>
void shape_l2(int64_t n0, int64_t n1) {
  for (int64_t done = 0; done < n1 - n0; done += kL2Rows) shape<MR, NR>(n0, n0 + kL2Rows);
}

struct Shape {
  const char* name;
  void (*memory)(int64_t, int64_t);
  void (*l2)(int64_t, int64_t);
  int rows;  // MR
};

}  // namespace

int main(int argc, char** argv) {
  M = argc > 1 ? std::atoll(argv[1]) : 32;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  weights = static_cast<uint16_t*>(std::aligned_alloc(64, N * K * 2));
  x = static_cast<uint16_t*>(std::aligned_alloc(64, M * K * 2));
  out = static_cast<float*>(std::aligned_alloc(64, M * N * 4));
  uint32_t seed = 1;
  for (int64_t i = 0; i < N * K; i++) weights[i] = lm_head_bench::random_bf16(seed);
  for (int64_t i = 0; i < M * K; i++) x[i] = lm_head_bench::random_bf16(seed);
  const Shape shapes[] = {{"4x4", shape<4, 4>, shape_l2<4, 4>, 4}, {"6x4", shape<6, 4>, shape_l2<6, 4>, 6},
                          {"4x6", shape<4, 6>, shape_l2<4, 6>, 4}, {"2x8", shape<2, 8>, shape_l2<2, 8>, 2},
                          {"8x2", shape<8, 2>, shape_l2<8, 2>, 8}, {"8x3", shape<8, 3>, shape_l2<8, 3>, 8}};
  constexpr int kShapes = sizeof(shapes) / sizeof(shapes[0]);
  std::vector<std::vector<double>> memory(kShapes), l2(kShapes);
  for (int round = 0; round < 9; round++)
    for (int v = 0; v < kShapes; v++) {
      memory[v].push_back(lm_head_bench::time_once(shapes[v].memory, threads));
      l2[v].push_back(lm_head_bench::time_once(shapes[v].l2, threads));
    }
  std::printf("%lld rows of x, %d threads\n", static_cast<long long>(M), threads);
  for (int v = 0; v < kShapes; v++) {
    std::sort(memory[v].begin(), memory[v].end());
    std::sort(l2[v].begin(), l2[v].end());
    const double gflop = 2.0 * (M - M % shapes[v].rows) * N * K / 1e9;
    const double ms = memory[v][memory[v].size() / 2], ms_l2 = l2[v][l2[v].size() / 2];
    std::printf("%-4s from memory %.3f ms %5.0f GFLOP/s   from L2 %.3f ms %5.0f GFLOP/s\n", shapes[v].name, ms,
                gflop / ms * 1e3, ms_l2, gflop / ms_l2 * 1e3);
  }
  return 0;
}
