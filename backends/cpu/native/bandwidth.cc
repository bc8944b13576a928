// A STREAM-like memory read probe: sums a large buffer on the thread pool, 8 streams per task, and reports the
// best read bandwidth of three passes (what `dsa bench` divides by for its roofline fraction). The buffer lies
// in huge pages where the OS grants them, as the weights the roofline compares against do (huge-pages.h).
#include "bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "huge-pages.h"
#include "pool.h"

namespace dsa {

constexpr int64_t kStreams = 8;

double memory_read_bandwidth(int64_t bytes, int threads, int passes) {
  const int64_t words = std::max<int64_t>(1, bytes / static_cast<int64_t>(sizeof(uint64_t)));
  const size_t size = static_cast<size_t>(((words * 8 + 63) / 64) * 64);
  uint64_t* data = reinterpret_cast<uint64_t*>(huge_map(size));
  if (!data) throw std::bad_alloc();
  const auto unmap = [size](uint64_t* p) { huge_unmap(reinterpret_cast<uint8_t*>(p), size); };
  std::unique_ptr<uint64_t, decltype(unmap)> owner(data, unmap);
  Context ctx;
  ctx.threads = std::max(1, threads);
  ThreadPool::get().reserve(ctx.threads);
  const int64_t grain = 1 << 16;
  // First touch on the pool threads, so pages are spread as the reading threads will use them.
  parallel_for(ctx, words, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) data[i] = static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
  });
  const int64_t chunks = std::min<int64_t>(4096, (words + grain - 1) / grain);
  std::vector<uint64_t> sums(static_cast<size_t>(chunks), 0);
  double best = 0;
  volatile uint64_t sink = 0;
  for (int pass = 0; pass < std::max(1, passes); pass++) {
    auto start = std::chrono::steady_clock::now();
    parallel_for(ctx, chunks, 1, [&](int64_t cb, int64_t ce) {
      for (int64_t c = cb; c < ce; c++) {
        const int64_t begin = words * c / chunks, end = words * (c + 1) / chunks;
        // kStreams interleaved streams per chunk, one 64-byte line of each per step: one stream per thread
        // leaves memory idle on some machines (a 2-core Xeon VM: 17.6 GB/s with one, 27.9 with 8, 28.6
        // with 16, where the AMX kernels stream 29), and the probe is the roofline's denominator.
        const int64_t len = (end - begin) / kStreams / 8 * 8;
        uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
        for (int64_t i = 0; i < len; i += 8)
          for (int64_t s = 0; s < kStreams; s++) {
            const uint64_t* p = data + begin + s * len + i;
            a0 += p[0];
            a1 += p[1];
            a2 += p[2];
            a3 += p[3];
            a4 += p[4];
            a5 += p[5];
            a6 += p[6];
            a7 += p[7];
          }
        for (int64_t i = begin + kStreams * len; i < end; i++) a0 += data[i];
        sums[static_cast<size_t>(c)] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
      }
    });
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    uint64_t total = 0;
    for (uint64_t s : sums) total += s;
    sink = sink + total;
    if (seconds > 0) best = std::max(best, static_cast<double>(words * 8) / seconds / 1e9);
  }
  (void)sink;
  return best;
}

}  // namespace dsa
