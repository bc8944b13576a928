// Microbenchmark of one query of the bf16 precision's absorbed MLA attention (attention-avx512bf16.cc), one thread,
// phase by phase: pack (the 256 gathered rows laid out for the two products), scores, softmax (with the rounding
// of p to bf16 pairs) and values, at small's shape (H = 16 heads, rows of 160 bf16 with C = 128 values, top-k 256).
// The rows are drawn at random from a 1025-row window (one sequence's layer) of a bf16 pool that is cache-resident
// (4096 rows, 1.3 MB) or not (32 sequences x 8 layers x 1025 rows, 84 MB, as a batch-32 step at depth 1024 meets).
// Build (one line, from the repository root; x86-64 with AVX-512 BF16):
//   g++ -O3 -std=c++17 -march=native -I backends/cpu/native -o /tmp/mla-query-bench backends/cpu/dev/mla-query-bench.cc
//     backends/cpu/native/{attention-avx512bf16,attention-amx-bf16,cpu-features,softmax-row,softmax-row-avx512,tensor}.cc
// then run: /tmp/mla-query-bench
// Session 25, the 2-core Zen 4 EPYC (TSC 2.6 GHz), three runs each: the pack copying every row into `natural` first
// 40-43k cycles from memory and 18-21k from L3, laying the bf16 rows out from where they lie 21-25k and 10-12k;
// scores 18-20k, softmax 5-7k, values 14-16k either way. Asking for rows 16, 32 or 64 ahead instead of 8, or for all
// 256 at the start, moved the copying pack within its noise.
#include <sys/mman.h>
#include <x86intrin.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "attention-avx512bf16.h"
#include "mla-rows-bench.h"
#include "softmax-row.h"

using namespace dsa;

int main() {
  constexpr int64_t H = 16, W = 160, C = 128, T = 256, kWindow = 1025;
  const int isa = 100;  // softmax_row's AVX-512 path
  for (const size_t pool_rows : {size_t{4096}, size_t{32 * 8 * kWindow}}) {
    // The pool on 2 MB pages (madvise), as the engine maps its caches (huge-pages.h).
    const size_t bytes = (pool_rows * W * 2 + (2u << 20) - 1) / (2u << 20) * (2u << 20);
    uint16_t* pool = static_cast<uint16_t*>(std::aligned_alloc(2u << 20, bytes));
    madvise(pool, bytes, MADV_HUGEPAGE);
    std::mt19937 rng(1);
    for (size_t i = 0; i < pool_rows * W; i++) pool[i] = static_cast<uint16_t>(0x3c00 + rng() % 0x400);  // bf16 values in [2^-7, 2^-6)
    std::vector<float> q(H * W);
    for (auto& v : q) v = static_cast<float>(rng() % 1000) * 0.001f - 0.5f;
    std::vector<const uint8_t*> rows(T);
    MlaPackedBf16 packed;
    std::vector<uint32_t> qb, pb;
    std::vector<float> logits, out(H * C);
    double cycles[4] = {0, 0, 0, 0};
    constexpr int kQueries = 4000;
    for (int r = 0; r < kQueries; r++) {
      mla_rows_bench::pick_rows(rows, pool, pool_rows, W, T, kWindow, rng);
      const MlaRowsView view{rows.data(), nullptr, nullptr, DType::bf16, T, W, W, C};
      mla_pack_size_bf16(view, H, packed);
      const int64_t ldl = packed.blocks * 16, ldp = packed.blocks * 8;
      qb.resize(H * packed.pairs);
      logits.resize(H * ldl);
      pb.resize(H * ldp);
      uint64_t t0 = __rdtsc();
      mla_pack_bf16(view, packed, 0, packed.blocks);
      uint64_t t1 = __rdtsc();
      mla_round_pairs_bf16(q.data(), W, H, W, packed.pairs, qb.data());
      mla_scores_bf16(qb.data(), H, packed, logits.data(), ldl, 0, packed.blocks);
      uint64_t t2 = __rdtsc();
      for (int64_t h = 0; h < H; h++) softmax_row(isa, logits.data() + h * ldl, T, 0.1f);
      mla_round_pairs_bf16(logits.data(), ldl, H, T, ldp, pb.data());
      uint64_t t3 = __rdtsc();
      mla_values_bf16(pb.data(), ldp, H, packed, C, out.data(), C, 0, packed.cvecs);
      uint64_t t4 = __rdtsc();
      if (r >= 100) {
        cycles[0] += t1 - t0;
        cycles[1] += t2 - t1;
        cycles[2] += t3 - t2;
        cycles[3] += t4 - t3;
      }
    }
    const double n = kQueries - 100;
    std::printf("pool %.1f MB: TSC cycles per query: pack %.0f scores %.0f softmax %.0f values %.0f (out[5] %g)\n",
                static_cast<double>(pool_rows * W * 2) / 1e6, cycles[0] / n, cycles[1] / n, cycles[2] / n,
                cycles[3] / n, out[5]);
    std::free(pool);
  }
}
