// What the lm_head GEMV microbenchmarks (linear-layout-bench.cc, batch-gemv-bench.cc) share: small's lm_head
// shape, random bf16 values and the timing of one pass over the weight rows on plain threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace lm_head_bench {

// small's lm_head: bf16 [N, K] (65.5 MB, beyond a 32 MB last-level cache).
constexpr int64_t N = 32000, K = 1024;

// A random bf16 in ±[0.5, 2) from a linear congruential generator (its state in `seed`).
inline uint16_t random_bf16(uint32_t& seed) {
  seed = seed * 1664525u + 1013904223u;
  return static_cast<uint16_t>(0x3f00 + (seed >> 25) + ((seed >> 24) & 1 ? 0x8000 : 0));
}

// ms of one pass of f over the rows [0, N), split into `threads` ranges of whole 4-row groups.
template <class F>
double time_once(F f, int threads) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  const int64_t per = N / threads / 4 * 4;
  for (int t = 0; t < threads; t++) pool.emplace_back([&, t] { f(t * per, t == threads - 1 ? N : (t + 1) * per); });
  for (auto& th : pool) th.join();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace lm_head_bench
