// Microbenchmark: one core gathering a decode query's latent rows from memory, as mla_pack_bf16 does at a batch of
// 32: 256 random rows of 320 bytes (small's bf16 rows) out of one sequence's 1024, the sequence drawn from a 300 MB
// pool in 2 MB pages, copied in ascending order into a packed buffer. Variants (first argument):
//   0: plain loads;  1: prefetcht0 `dist` rows ahead;  2: prefetcht1 `dist` rows ahead;  3: prefetchnta.
// Session 23 on the 2-core Xeon VM (9.5 µs per query for 0): 0 8.6 GB/s, 1 (4-16 rows) 8.9-9.0, 2 (8) 10.2,
// (16, 32) 9.8-9.9, 3 6.5; two copies at once (one per core) read the same each: each core's outstanding misses
// bound the gather, not the memory.
// Build (one line, from the repository root; x86-64 with AVX-512):
//   g++ -O2 -mavx512f -o /tmp/gather-rows-bench backends/cpu/dev/gather-rows-bench.cc
// then run: /tmp/gather-rows-bench 0; /tmp/gather-rows-bench 2 8; and two at once:
//   (/tmp/gather-rows-bench 2 8 & /tmp/gather-rows-bench 2 8)
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

int main(int argc, char** argv) {
  const int mode = argc > 1 ? atoi(argv[1]) : 0, dist = argc > 2 ? atoi(argv[2]) : 8;
  constexpr size_t kPool = size_t{300} << 20, kHuge = size_t{2} << 20;
  constexpr int kRow = 320, kPositions = 1024, kTopK = 256, kQueries = 4096;
  void* map = mmap(nullptr, kPool + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return 1;
  uint8_t* pool = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(map) + kHuge - 1) & ~uintptr_t{kHuge - 1});
  madvise(pool, kPool, MADV_HUGEPAGE);
  memset(pool, 1, kPool);
  const int sequences = static_cast<int>(kPool / (size_t{kPositions} * kRow));
  // Each query: one sequence's window, 256 of its 1024 rows, ascending (as the indexer's top-k lists them).
  std::mt19937 rng(1);
  std::vector<std::vector<const uint8_t*>> queries(kQueries);
  std::vector<int> positions(kPositions);
  for (auto& rows : queries) {
    const size_t sequence = rng() % sequences;
    for (int i = 0; i < kPositions; i++) positions[i] = i;
    std::shuffle(positions.begin(), positions.end(), rng);
    std::sort(positions.begin(), positions.begin() + kTopK);
    for (int i = 0; i < kTopK; i++) rows.push_back(pool + (sequence * kPositions + positions[i]) * kRow);
  }
  alignas(64) static uint16_t packed[kTopK * kRow / 2];
  long long sink = 0;
  const auto started = std::chrono::steady_clock::now();
  for (const auto& rows : queries) {
    for (int t = 0; t < kTopK; t++) {
      if (mode > 0 && t + dist < kTopK)
        for (int o = 0; o < kRow; o += 64) {
          const char* p = reinterpret_cast<const char*>(rows[t + dist]) + o;
          if (mode == 1) _mm_prefetch(p, _MM_HINT_T0);
          if (mode == 2) _mm_prefetch(p, _MM_HINT_T1);
          if (mode == 3) _mm_prefetch(p, _MM_HINT_NTA);
        }
      const __m512i* src = reinterpret_cast<const __m512i*>(rows[t]);
      for (int k = 0; k < kRow / 64; k++)
        _mm512_storeu_si512(reinterpret_cast<__m512i*>(packed + t * kRow / 2) + k, _mm512_loadu_si512(src + k));
    }
    sink += packed[7];
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  printf("mode %d dist %d: %.2f us per query, %.2f GB/s (%lld)\n", mode, dist, seconds * 1e6 / kQueries,
         static_cast<double>(kQueries) * kTopK * kRow / seconds / 1e9, sink);
}
