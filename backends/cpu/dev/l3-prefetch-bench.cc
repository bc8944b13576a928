// Microbenchmark: can the kernels that stream no weights (attention, the indexer: 5-7 ms of small's batch-32 step
// on 2 cores) ask for the next kernels' weights ahead, so that those stream from the last-level cache instead of
// memory? Two threads compute on an L2-resident buffer for `ms` milliseconds while (PF rows) each issues software
// prefetches over its half of a weight region of `mb` MB with hint T2/T1/NTA (2/1/0), `lines` lines per 256 FMAs;
// then both threads stream the region with vector loads. Before each round a 768 MB buffer is streamed to push
// the region out of every cache. Rows alternate no/PF, six of each.
// Session 20 on the 2-core Xeon VM (480 MiB L3, THP on): with 21 MB (small's o_proj and one MoE layer) and 0.8 ms
// of compute, 128 lines per step (8.7-9.5 of 11 MB per thread asked for in time), the stream after prefetching
// read 22-36 GB/s against 23-37 without (three runs, T2 and T1 alike): the prefetched lines do not stay in the
// (non-inclusive) L3 once L2 evicts them, so asking for the next kernels' weights gains nothing here.
// Session 24 on the 2-core Zen 4 EPYC (32 MiB L3, a victim cache of the L2s): 8 MB with 0.5 ms of compute, T1, 128
// lines per step: the stream read 30.0, 71.8, 42.1, 38.5, 32.8, 41.7 GB/s after prefetching against 24.2, 28.6,
// 28.6, 30.1, 31.9, 24.0 without; 2 MB (small's o_proj) with 0.25 ms, 64 lines: T1 20.1, 20.9, 16.0, 13.8, 16.9,
// 16.6 against 16.3, 15.8, 12.8, 14.4, 14.5, 16.0, T2 17.1-29.9 against 14.2-21.4. Here the L3 keeps some of
// the lines. Inside a batch-8 step, the indexer's and attention's queries asking for the o_proj's slices after each
// query gained about 50 µs a step (0.5%; docs/benchmarks.md, session 24).
// Build (one line, from the repository root; x86-64 with AVX-512, Linux):
//   g++ -O2 -march=native -pthread -o /tmp/l3-prefetch-bench backends/cpu/dev/l3-prefetch-bench.cc
// then run: /tmp/l3-prefetch-bench 21 2 0.8 128; /tmp/l3-prefetch-bench 21 1 0.8 128
#include <immintrin.h>
#include <sys/mman.h>
#include <x86intrin.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace {

// A 1-filled mapping of n bytes, 2 MB aligned, advised for huge pages.
uint8_t* map_huge(size_t n) {
  void* p = mmap(nullptr, n + (2u << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) std::abort();
  uint8_t* q = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p) + (2u << 20) - 1) & ~uintptr_t{(2u << 20) - 1});
  madvise(q, n, MADV_HUGEPAGE);
  std::memset(q, 1, n);
  return q;
}

// Sum of [p, p + n) as f32 (n a multiple of 256), four independent accumulators.
float stream(const uint8_t* p, size_t n) {
  __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
  for (size_t o = 0; o < n; o += 256) {
    a = _mm512_add_ps(a, _mm512_load_ps(reinterpret_cast<const float*>(p + o)));
    b = _mm512_add_ps(b, _mm512_load_ps(reinterpret_cast<const float*>(p + o + 64)));
    c = _mm512_add_ps(c, _mm512_load_ps(reinterpret_cast<const float*>(p + o + 128)));
    d = _mm512_add_ps(d, _mm512_load_ps(reinterpret_cast<const float*>(p + o + 192)));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d)));
}

// FMAs on hot [4096] floats for `cycles` TSC cycles; with p, prefetches over [p, p + n), `lines` per step.
float compute(const float* hot, uint64_t cycles, const uint8_t* p, size_t n, int hint, int lines) {
  const uint64_t t0 = __rdtsc();
  __m512 acc = _mm512_setzero_ps();
  size_t off = 0;
  while (__rdtsc() - t0 < cycles) {
    for (int i = 0; i < 4096; i += 16) acc = _mm512_fmadd_ps(_mm512_load_ps(hot + i), acc, _mm512_load_ps(hot + i));
    for (int k = 0; p != nullptr && k < lines && off < n; k++, off += 64) {
      const char* q = reinterpret_cast<const char*>(p + off);
      if (hint == 2)
        _mm_prefetch(q, _MM_HINT_T2);
      else if (hint == 1)
        _mm_prefetch(q, _MM_HINT_T1);
      else
        _mm_prefetch(q, _MM_HINT_NTA);
    }
  }
  if (p != nullptr) std::fprintf(stderr, "  asked for %zu of %zu bytes\n", off, n);
  return _mm512_reduce_add_ps(acc);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: l3-prefetch-bench MB HINT(2|1|0) MS LINES\n");
    return 2;
  }
  const size_t region = static_cast<size_t>(std::atoi(argv[1])) << 20;
  const int hint = std::atoi(argv[2]), lines = std::atoi(argv[4]);
  const double ms = std::atof(argv[3]);
  const size_t flush_bytes = size_t{768} << 20;
  uint8_t* flush = map_huge(flush_bytes);
  uint8_t* weights = map_huge(region);
  float* hot = static_cast<float*>(std::aligned_alloc(64, 2 * 4096 * sizeof(float)));
  for (int i = 0; i < 2 * 4096; i++) hot[i] = 1e-3f;
  const uint64_t c0 = __rdtsc();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const double ghz = static_cast<double>(__rdtsc() - c0) / 0.2e9;
  const uint64_t cycles = static_cast<uint64_t>(ms * 1e6 * ghz);
  float sink = 0;
  for (int round = 0; round < 12; round++) {
    const bool prefetch = round % 2 == 1;
    float s1 = 0, s2 = 0;
    std::thread f([&] { s1 = stream(flush + flush_bytes / 2, flush_bytes / 2); });
    s2 = stream(flush, flush_bytes / 2);
    f.join();
    std::thread c([&] { s1 += compute(hot + 4096, cycles, prefetch ? weights + region / 2 : nullptr, region / 2, hint, lines); });
    s2 += compute(hot, cycles, prefetch ? weights : nullptr, region / 2, hint, lines);
    c.join();
    const uint64_t t0 = __rdtsc();
    std::thread r([&] { s1 += stream(weights + region / 2, region / 2); });
    s2 += stream(weights, region / 2);
    r.join();
    const double us = static_cast<double>(__rdtsc() - t0) / ghz / 1e3;
    std::printf("%s %zu MB, hint %d, %.2f ms of compute: stream %.1f us = %.1f GB/s\n", prefetch ? "PF" : "no",
                region >> 20, hint, ms, us, static_cast<double>(region) / us / 1e3);
    sink += s1 + s2;
  }
  return sink == 12345.0f ? 1 : 0;
}
