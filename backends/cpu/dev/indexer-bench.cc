// Microbenchmark of the indexer's pieces at decode (one query, one thread): scoring n f8_e4m3 keys
// with the f32 loop (indexer-avx512.cc), the vdpbf16ps loop (indexer-avx512bf16.cc) and the losing
// heads-in-lanes vdpbf16ps layout below, each checked against a float64 loop; the bf16 loops again on
// cold keys (after 64 MB of other reads); then the top-k select of 256 of 32768 and of n. Arguments: Hi Di n
// (default 8 64 16384). Build (one line, from the repository root; x86-64 with AVX-512 BF16 and VBMI):
//   g++ -O3 -std=c++17 -ffp-contract=off -pthread -I backends/cpu/native -o /tmp/indexer-bench
//     backends/cpu/dev/indexer-bench.cc backends/cpu/native/{indexer-avx512,indexer-avx512bf16,top-k,top-k-row-avx512,convert,tensor,pool,cpu-features}.cc
// then run: /tmp/indexer-bench 8 64 16384; /tmp/indexer-bench 64 128 4096
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "indexer-avx512.h"
#include "indexer-avx512bf16.h"
#include "kernels.h"

using namespace dsa;

// The losing layout, kept for the record: vdpbf16ps with the heads in the lanes (Hi = 8, Di = 64 only):
// lane 2h + s of the accumulator is head h, pair slot s; each step broadcasts 4 bf16 of the decoded key
// (64 bits), the 16 steps' q vectors sit in registers, then a fold of the two slots, ReLU, weights and
// the 16-key transposing reduction (as indexer-avx512.cc). On a Zen 4 core, 16384 keys: 150 us against
// 114 us for the keys-in-lanes loop that ships (and 285 us for the f32 loop).
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx512bf16")
#include <immintrin.h>
#include "fp8-avx512.h"
#include "reduce16-avx512.h"
namespace {
uint16_t bf16_bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return static_cast<uint16_t>(b >> 16);
}
bool heads_in_lanes_bf16(const float* q, const float* w, int64_t Hi, int64_t Di, const uint8_t* const* rows,
                         const float* const* scales, int64_t n, float* score) {
  if (Hi != 8 || Di != 64) return false;
  static const Fp8Table table;
  auto element = [](int p) { return p < 32 ? 16 * (p / 8) + p % 8 : 16 * ((p - 32) / 8) + 8 + (p - 32) % 8; };
  alignas(64) uint16_t qw[16][32];
  for (int d = 0; d < 16; d++)
    for (int h = 0; h < 8; h++)
      for (int s = 0; s < 2; s++)
        for (int j = 0; j < 2; j++) qw[d][2 * (2 * h + s) + j] = bf16_bits(q[h * 64 + element(4 * d + 2 * s + j)]);
  __m512bh Q[16];
  for (int d = 0; d < 16; d++) Q[d] = (__m512bh)_mm512_load_si512(qw[d]);
  alignas(64) float wl[16];
  for (int l = 0; l < 16; l++) wl[l] = l % 2 == 0 ? w[l / 2] : 0.0f;
  const __m512 wv = _mm512_load_ps(wl), zero = _mm512_setzero_ps();
  alignas(64) static uint16_t dec[16][64];
  const __m512i sign = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t t0 = 0; t0 < n; t0 += 16) {
    const int64_t count = n - t0 < 16 ? n - t0 : 16;
    for (int64_t i = 0; i < 16; i++) {
      const __m512i bytes = _mm512_loadu_si512(rows[t0 + (i < count ? i : 0)]);
      const __m512i hi = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(table.hi0, bytes, table.hi1), bytes, sign, 0xf8);
      const __m512i lo = _mm512_permutex2var_epi8(table.lo0, bytes, table.lo1);
      _mm512_store_si512(dec[i], _mm512_unpacklo_epi8(lo, hi));
      _mm512_store_si512(dec[i] + 32, _mm512_unpackhi_epi8(lo, hi));
    }
    __m512 lanes[16];
    for (int i = 0; i < 16; i += 8) {
      __m512 acc[8];
      for (int e = 0; e < 8; e++) acc[e] = zero;
      for (int d = 0; d < 16; d++)
        for (int e = 0; e < 8; e++) {
          double b;
          std::memcpy(&b, dec[i + e] + 4 * d, 8);
          acc[e] = _mm512_dpbf16_ps(acc[e], Q[d], (__m512bh)_mm512_castpd_ps(_mm512_set1_pd(b)));
        }
      for (int e = 0; e < 8; e++) {
        const __m512 f = _mm512_add_ps(acc[e], _mm512_permute_ps(acc[e], 0xb1));
        const float sc = i + e < count && scales != nullptr ? *scales[t0 + i + e] : 1.0f;
        lanes[i + e] = _mm512_mul_ps(wv, _mm512_max_ps(_mm512_mul_ps(f, _mm512_set1_ps(sc)), zero));
      }
    }
    const __m512 r = reduce16(lanes);
    _mm512_mask_storeu_ps(score + t0, static_cast<__mmask16>((1u << count) - 1u), r);
  }
  return true;
}
}  // namespace
#pragma GCC pop_options

static float e4m3(uint8_t b) {
  const int s = b >> 7, e = (b >> 3) & 15, m = b & 7;
  float v = e == 0 ? m / 512.0f : (1 + m / 8.0f) * std::ldexp(1.0f, e - 7);
  return s ? -v : v;
}

template <class F>
double best_us(F&& f, int reps) {
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

int main(int argc, char** argv) {
  const int64_t Hi = argc > 1 ? atoi(argv[1]) : 8, Di = argc > 2 ? atoi(argv[2]) : 64;
  const int64_t n = argc > 3 ? atoi(argv[3]) : 16384, T = 32768, k = 256;
  std::mt19937 rng(1);
  std::vector<uint8_t> keys(static_cast<size_t>(n * Di));
  for (auto& b : keys) {
    do b = static_cast<uint8_t>(rng()); while ((b & 0x7f) == 0x7f);
  }
  std::vector<float> scale(n), q(Hi * Di), w(Hi), score(n);
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto& s : scale) s = std::ldexp(1.0f, static_cast<int>(rng() % 8) - 10);
  for (auto& x : q) {
    uint8_t b;
    do b = static_cast<uint8_t>(rng()); while ((b & 0x7f) == 0x7f);
    x = e4m3(b) * 0.25f;
  }
  for (auto& x : w) x = u(rng);
  std::vector<const uint8_t*> rows(n);
  std::vector<const float*> srows(n);
  for (int64_t t = 0; t < n; t++) rows[t] = keys.data() + t * Di, srows[t] = &scale[t];
  double us = best_us([&] { indexer_scores_avx512(q.data(), w.data(), Hi, Di, rows.data(), DType::f8_e4m3, srows.data(), n, score.data()); }, 20);
  std::printf("scores  Hi %lld Di %lld n %lld: %.1f us (%.1f GFLOP/s)\n", (long long)Hi, (long long)Di, (long long)n, us,
              2.0 * Hi * Di * n / us / 1e3);
  std::vector<float> score2(n);
  us = best_us([&] { indexer_scores_fp8_avx512bf16(q.data(), w.data(), Hi, Di, rows.data(), srows.data(), n, score2.data()); }, 20);
  std::printf("bf16    Hi %lld Di %lld n %lld: %.1f us (%.1f GFLOP/s)\n", (long long)Hi, (long long)Di, (long long)n, us,
              2.0 * Hi * Di * n / us / 1e3);
  std::vector<float> score3(n);
  const bool b_ran = heads_in_lanes_bf16(q.data(), w.data(), Hi, Di, rows.data(), srows.data(), n, score3.data());
  if (b_ran) {
    us = best_us([&] { heads_in_lanes_bf16(q.data(), w.data(), Hi, Di, rows.data(), srows.data(), n, score3.data()); }, 20);
    std::printf("bf16 heads in lanes (dev variant): %.1f us (%.1f GFLOP/s)\n", us, 2.0 * Hi * Di * n / us / 1e3);
  }
  double worst = 0, worst2 = 0, worst3 = 0;
  for (int64_t t = 0; t < n; t++) {
    double ref = 0, mag = 0;
    for (int64_t h = 0; h < Hi; h++) {
      double dot = 0, dmag = 0;
      for (int64_t d = 0; d < Di; d++) {
        const double x = double(q[h * Di + d]) * e4m3(keys[t * Di + d]);
        dot += x, dmag += std::fabs(x);
      }
      ref += w[h] * (dot > 0 ? dot : 0), mag += std::fabs(w[h]) * dmag;
    }
    ref *= scale[t], mag *= scale[t];
    worst = std::max(worst, std::fabs(score[t] - ref) / mag);
    worst2 = std::max(worst2, std::fabs(score2[t] - ref) / mag);
    if (b_ran) worst3 = std::max(worst3, std::fabs(score3[t] - ref) / mag);
  }
  std::printf("error / magnitude: f32 %.3g bf16 %.3g bf16 heads in lanes %.3g\n", worst, worst2, worst3);
  // Cold keys: each run after 64 MB of other reads (the weights of a decode step evict the cache).
  {
    std::vector<char> junk(64 << 20, 1);
    volatile char sink = 0;
    auto evict = [&] {
      for (size_t i = 0; i < junk.size(); i += 64) sink = sink + junk[i];
    };
    double cold = 1e30, cold2 = 1e30;
    for (int r = 0; r < 10; r++) {
      evict();
      cold = std::min(cold, best_us([&] { indexer_scores_avx512(q.data(), w.data(), Hi, Di, rows.data(), DType::f8_e4m3, srows.data(), n, score.data()); }, 1));
      evict();
      cold2 = std::min(cold2, best_us([&] { indexer_scores_fp8_avx512bf16(q.data(), w.data(), Hi, Di, rows.data(), srows.data(), n, score2.data()); }, 1));
    }
    std::printf("cold keys: f32 %.1f us, bf16 %.1f us\n", cold, cold2);
  }
  std::vector<float> row(T);
  for (auto& x : row) x = std::fabs(u(rng)) * u(rng);
  std::vector<int32_t> out(k), scratch;
  for (const int64_t len : {T, std::min(n, T)}) {
    us = best_us([&] { select_top_k(row.data(), len, k, out.data(), scratch); }, 50);
    std::printf("top-k %lld of %lld: %.2f us\n", (long long)k, (long long)len, us);
  }
}
