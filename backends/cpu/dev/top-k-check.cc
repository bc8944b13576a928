// Checker for the f32 row selects against a plain reference (stable sort by value, the first k, sorted by
// index): top-k.cc's select_top_k (threshold select and its in-order final pass) and top-k-row-avx512.cc's
// select_top_k_avx512 (count select, where the CPU has AVX-512). 20000 random rows of 1 to 3000 entries (one in
// ten up to 20000, the sampled-threshold path), k from 1 to 400, values normal, small integers (many ties),
// ±0, with -inf and NaN, ReLU'd normals (ties at 0), and huge values of both signs; then the time per row of
// both at k = 256.
// Build and run (one line, from the repository root):
//   g++ -O3 -std=c++17 -ffp-contract=off -pthread -I backends/cpu/native -o /tmp/top-k-check
//     backends/cpu/dev/top-k-check.cc backends/cpu/native/{top-k,top-k-row-avx512,tensor,convert,pool,cpu-features}.cc
//     && /tmp/top-k-check
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>
#include "cpu-features.h"
#include "kernels.h"
#include "top-k-row.h"
using namespace dsa;
int main() {
  std::mt19937 rng(5);
  const bool avx512 = detected_isa() >= kAvx512;
  int bad = 0, bad512 = 0, cases = 0;
  for (int it = 0; it < 20000; it++) {
    int64_t n = 1 + rng() % (it % 10 == 0 ? 20000 : 3000), k = 1 + rng() % 400;
    std::vector<float> row(n);
    int mode = rng() % 6;
    for (auto& v : row) {
      switch (mode) {
        case 0: v = std::normal_distribution<float>(0, 1)(rng); break;
        case 1: v = float(int(rng() % 7)) - 3; break;              // many ties
        case 2: v = (rng() % 2) ? 0.0f : -0.0f; break;             // ±0
        case 3: { int r = rng() % 10; v = r == 0 ? -std::numeric_limits<float>::infinity() : r == 1 ? NAN : float(rng() % 50); } break;
        case 4: v = std::max(0.0f, std::normal_distribution<float>(0, 1)(rng)); break;  // relu: ties at 0
        default: v = std::ldexp(std::normal_distribution<float>(0, 1)(rng), int(rng() % 250) - 125); break;  // wide exponents
      }
    }
    std::vector<int32_t> idx;
    for (int64_t i = 0; i < n; i++) if (row[i] > -std::numeric_limits<float>::infinity()) idx.push_back(i);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return row[a] > row[b]; });
    if ((int64_t)idx.size() > k) idx.resize(k);
    std::sort(idx.begin(), idx.end());
    while ((int64_t)idx.size() < k) idx.push_back(-1);
    std::vector<int32_t> out(k), sc;
    select_top_k(row.data(), n, k, out.data(), sc);
    cases++;
    if (out != idx) { if (bad++ < 5) std::printf("mismatch n=%lld k=%lld mode=%d\n", (long long)n, (long long)k, mode); }
    if (avx512) {
      std::vector<int32_t> out512(k);
      select_top_k_avx512(row.data(), n, k, out512.data());
      if (out512 != idx && bad512++ < 5) std::printf("avx512 mismatch n=%lld k=%lld mode=%d\n", (long long)n, (long long)k, mode);
    }
  }
  std::printf("select_top_k: %d of %d mismatched\n", bad, cases);
  if (avx512) std::printf("select_top_k_avx512: %d of %d mismatched\n", bad512, cases);
  for (int64_t n : {300, 512, 1024, 2048, 4096, 16384, 65536}) {
    const int64_t k = 256, rows = 64, reps = n > 4096 ? 20 : 200;
    std::vector<float> data(static_cast<size_t>(n * rows));
    for (auto& v : data) v = std::max(0.0f, std::normal_distribution<float>(0, 1)(rng)) * 3 + std::normal_distribution<float>(0, 1)(rng);
    std::vector<int32_t> out(k), sc;
    long long sink = 0;
    auto time = [&](auto&& select) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < reps; r++)
        for (int64_t i = 0; i < rows; i++) {
          select(data.data() + i * n);
          sink += out[k / 2];
        }
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps / rows * 1e6;
    };
    const double threshold = time([&](const float* row) { select_top_k(row, n, k, out.data(), sc); });
    const double count = avx512 ? time([&](const float* row) { select_top_k_avx512(row, n, k, out.data()); }) : 0;
    std::printf("n = %lld, k = 256: threshold select %.2f us, count select %.2f us per row (sink %lld)\n",
                static_cast<long long>(n), threshold, count, sink);
  }
  return bad == 0 && bad512 == 0 ? 0 : 1;
}
