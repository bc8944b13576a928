// Microbenchmark of mla_pack_bf16 (attention-avx512bf16.cc), one thread: one query's 256 gathered latent rows of
// small's width (f32, 160 values: 640 bytes) packed for the two products, the rows drawn at random from a
// 1025-row window (one sequence's layer) of a pool that is cache-resident (4096 rows, 2.6 MB) or not (32
// sequences × 8 layers × 1025 rows, 168 MB, as at batch 32, depth 1024). HUGE=1 madvises the pool to 2 MB pages.
// Build (one line, from the repository root; x86-64 with AVX-512 BF16):
//   g++ -O3 -std=c++17 -ffp-contract=off -I backends/cpu/native -o /tmp/mla-pack-bench
//     backends/cpu/dev/mla-pack-bench.cc backends/cpu/native/{attention-avx512bf16,attention-amx-bf16,cpu-features,tensor}.cc
// then run: /tmp/mla-pack-bench; HUGE=1 /tmp/mla-pack-bench
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "attention-avx512bf16.h"
#include "mla-rows-bench.h"

using namespace dsa;

int main() {
  constexpr int64_t W = 160, C = 128, T = 256, kWindow = 1025;
  for (const size_t pool_rows : {size_t{4096}, size_t{32 * 8 * kWindow}}) {
    const size_t bytes = (pool_rows * W * 4 + (2u << 20) - 1) / (2u << 20) * (2u << 20);
    float* pool = static_cast<float*>(std::aligned_alloc(2u << 20, bytes));
    if (std::getenv("HUGE") != nullptr) madvise(pool, bytes, MADV_HUGEPAGE);
    std::mt19937 rng(1);
    for (size_t i = 0; i < pool_rows * W; i++) pool[i] = static_cast<float>(rng() % 1000) * 0.001f;
    std::vector<const uint8_t*> rows(T);
    MlaPackedBf16 packed;
    double best = 1e30, sum = 0;
    constexpr int kQueries = 2000;
    for (int r = 0; r < kQueries; r++) {
      mla_rows_bench::pick_rows(rows, pool, pool_rows, W, T, kWindow, rng);
      const MlaRowsView view{rows.data(), nullptr, nullptr, DType::f32, T, W, W, C};
      mla_pack_size_bf16(view, 16, packed);
      const auto t0 = std::chrono::steady_clock::now();
      mla_pack_bf16(view, packed, 0, packed.blocks);
      const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      best = std::min(best, us);
      sum += us;
    }
    std::printf("pool of %zu rows (%.1f MB): %.2f us per query's pack (best %.2f)\n", pool_rows,
                static_cast<double>(pool_rows * W * 4) / 1e6, sum / kQueries, best);
    std::free(pool);
  }
}
