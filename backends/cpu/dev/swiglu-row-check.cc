// Checker for swiglu-row-avx512.cc against the scalar reference (std::exp, glibc's exp):
//  1. its e^x in double against std::exp over 2^24 random doubles in [-746, 710], in ulps;
//  2. swiglu_row_avx512 against swiglu_row_scalar with up = 1 (so the output is silu rounded to f32) over every
//     float gate in [-128, 128] by bit pattern, plus ±0, ±inf, NaN and gates past ±128: how many outputs differ,
//     and by how many f32 ulps at most;
//  3. time per element of both on rows of 96 (small's experts) and 2816 (its dense layer).
// Build and run (one line, from the repository root; x86-64 with AVX-512):
//   g++ -O3 -std=c++17 -march=x86-64-v4 -ffp-contract=off -I backends/cpu/native -o /tmp/swiglu-row-check
//     backends/cpu/dev/swiglu-row-check.cc backends/cpu/native/swiglu-row.cc && /tmp/swiglu-row-check
#include "../native/swiglu-row-avx512.cc"  // for exp8d, in its anonymous namespace

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace dsa;

namespace {

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

void check_exp() {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> dist(-746.0, 710.0);
  double worst = 0, at = 0;
  alignas(64) double x[8], y[8];
  for (int n = 0; n < (1 << 21); n++) {
    for (int l = 0; l < 8; l++) x[l] = dist(rng);
    _mm512_store_pd(y, exp8d(_mm512_load_pd(x)));
    for (int l = 0; l < 8; l++) {
      const double want = std::exp(x[l]);
      if (want == 0 || std::isinf(want)) {
        if (y[l] != want && !(want == 0 && std::fabs(y[l]) < 5e-324 * 2)) std::printf("exp(%.17g): %g, want %g\n", x[l], y[l], want);
        continue;
      }
      const double ulp = std::fabs(std::nextafter(want, INFINITY) - want);
      const double e = std::fabs(y[l] - want) / ulp;
      if (e > worst) worst = e, at = x[l];
    }
  }
  std::printf("exp8d: worst %.2f ulps of std::exp over 2^24 random x in [-746, 710] (at x = %.17g)\n", worst, at);
}

void check_rows() {
  std::vector<float> g, one, a, s;
  uint64_t total = 0, differ = 0;
  int worst = 0;
  float worst_at = 0;
  const auto run = [&]() {
    one.assign(g.size(), 1.0f);
    a.resize(g.size());
    s.resize(g.size());
    swiglu_row_avx512(g.data(), one.data(), a.data(), static_cast<int64_t>(g.size()));
    swiglu_row_scalar(g.data(), one.data(), s.data(), static_cast<int64_t>(g.size()));
    for (size_t i = 0; i < g.size(); i++) {
      total++;
      if (bits_of(a[i]) == bits_of(s[i]) || (std::isnan(a[i]) && std::isnan(s[i]))) continue;
      differ++;
      const int d = std::abs(static_cast<int>(bits_of(a[i]) - bits_of(s[i])));
      if (d > worst) worst = d, worst_at = g[i];
    }
    g.clear();
  };
  // Every float in [-128, 128]: magnitudes from +0 up to 128, both signs, in chunks.
  const uint32_t top = bits_of(128.0f);
  for (uint32_t b = 0; b <= top; b++) {
    float f;
    std::memcpy(&f, &b, 4);
    g.push_back(f);
    g.push_back(-f);
    if (g.size() >= (1u << 20)) run();
  }
  for (float f : {1e3f, -1e3f, 3e38f, -3e38f, std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()})
    g.push_back(f);
  run();
  std::printf("rows: %llu gates (every float in [-128, 128] and specials); %llu outputs differ from the scalar "
              "reference (%.2e), by at most %d f32 ulp (at gate %.9g)\n",
              static_cast<unsigned long long>(total), static_cast<unsigned long long>(differ),
              static_cast<double>(differ) / static_cast<double>(total), worst, worst_at);
}

void time_rows() {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  for (int n : {96, 2816}) {
    std::vector<float> g(n), u(n), o(n);
    for (int i = 0; i < n; i++) g[i] = dist(rng), u[i] = dist(rng);
    for (int which = 0; which < 2; which++) {
      const int reps = 2000000 / n;
      const auto t0 = std::chrono::steady_clock::now();
      for (int r = 0; r < reps; r++) {
        g[r % n] += 1e-7f;
        (which ? swiglu_row_scalar : swiglu_row_avx512)(g.data(), u.data(), o.data(), n);
      }
      const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
      std::printf("row of %d, %s: %.2f ns per element\n", n, which ? "scalar" : "avx512", ns / reps / n);
    }
  }
}

}  // namespace

int main() {
  check_exp();
  check_rows();
  time_rows();
}
