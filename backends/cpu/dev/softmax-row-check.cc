// Checker for softmax-row-avx512.cc against float64:
//  1. its exp over every float x in [-104, 0] (the range softmax feeds it: scale · logit − max), in ulps of
//     the correctly rounded e^x, with std::exp (glibc expf, the scalar reference's) beside it;
//  2. whole rows: softmax_row_avx512 and softmax_row_scalar against a float64 softmax, relative error, for
//     row lengths 1 to 300 and 2048 (masked tails, all −inf, one −inf entry);
//  3. time per element of both on rows of 256 (mlaAttention's sparse top-k at small).
// Build and run (one line, from the repository root; x86-64 with AVX-512):
//   g++ -O3 -std=c++17 -march=x86-64-v4 -ffp-contract=off -I backends/cpu/native -o /tmp/softmax-row-check
//     backends/cpu/dev/softmax-row-check.cc backends/cpu/native/softmax-row.cc && /tmp/softmax-row-check
#include "../native/softmax-row-avx512.cc"  // for exp16, in its anonymous namespace

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace dsa;

namespace {

// Distance in ulps between f32 a and the double b (b rounded to f32 first).
double ulps(float a, double b) {
  const float r = static_cast<float>(b);
  if (a == r) return 0;
  const float step = std::nextafter(r, a) - r;
  return std::fabs((static_cast<double>(a) - b) / static_cast<double>(std::fabs(step)));
}

void check_exp() {
  double worst = 0, worst_libm = 0;
  float at = 0;
  uint64_t count = 0;
  // Every float in [-104, 0]: the negative floats from -0 down to -104, by bit pattern.
  uint32_t lo, hi;
  float f = -104.0f;
  std::memcpy(&hi, &f, 4);
  lo = 0x80000000u;
  alignas(64) float xs[16], ys[16];
  for (uint64_t bits = lo; bits <= hi; bits += 16) {
    for (int l = 0; l < 16; l++) {
      uint32_t b = static_cast<uint32_t>(std::min<uint64_t>(bits + l, hi));
      std::memcpy(&xs[l], &b, 4);
    }
    _mm512_store_ps(ys, exp16(_mm512_load_ps(xs)));
    for (int l = 0; l < 16; l++) {
      const double e = std::exp(static_cast<double>(xs[l]));
      const double u = ulps(ys[l], e);
      if (u > worst) worst = u, at = xs[l];
      count++;
    }
    if ((bits & 0xfffff) == 0)
      for (int l = 0; l < 16; l++) worst_libm = std::max(worst_libm, ulps(std::exp(xs[l]), std::exp(static_cast<double>(xs[l]))));
  }
  std::printf("exp16 over %llu floats in [-104, 0]: max %.3f ulp (at %.9g); std::exp (sampled): max %.3f ulp\n",
              static_cast<unsigned long long>(count), worst, at, worst_libm);
}

double row_error(void (*fn)(float*, int64_t, float), const std::vector<float>& in, float scale) {
  const int64_t n = static_cast<int64_t>(in.size());
  std::vector<float> row(in);
  fn(row.data(), n, scale);
  double max = -std::numeric_limits<double>::infinity();
  for (float v : in) max = std::max(max, static_cast<double>(v * scale));
  double sum = 0;
  std::vector<double> ref(in.size());
  for (int64_t i = 0; i < n; i++) sum += ref[i] = std::isinf(max) ? 0 : std::exp(static_cast<double>(in[i] * scale) - max);
  double worst = 0;
  for (int64_t i = 0; i < n; i++) {
    const double r = sum > 0 ? ref[i] / sum : 0;
    worst = std::max(worst, std::fabs(row[i] - r) / std::max(r, 1e-30));
  }
  return worst;
}

void check_rows() {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  double worst_vec = 0, worst_ref = 0;
  std::vector<int64_t> lengths;
  for (int64_t n = 1; n <= 300; n++) lengths.push_back(n);
  lengths.push_back(2048);
  for (int64_t n : lengths)
    for (int rep = 0; rep < 4; rep++) {
      std::vector<float> in(static_cast<size_t>(n));
      for (float& v : in) v = normal(rng);
      if (rep == 1) in[static_cast<size_t>(n / 2)] = -std::numeric_limits<float>::infinity();
      if (rep == 2) for (float& v : in) v = -std::numeric_limits<float>::infinity();
      const float scale = rep == 3 ? 0.125f : 1.0f;
      worst_vec = std::max(worst_vec, row_error(softmax_row_avx512, in, scale));
      worst_ref = std::max(worst_ref, row_error(softmax_row_scalar, in, scale));
    }
  std::printf("rows of 1..300 and 2048: max relative error avx512 %.3g, scalar %.3g\n", worst_vec, worst_ref);
}

void time_rows() {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  const int64_t n = 256, reps = 200000;
  std::vector<float> in(n), row(n);
  for (float& v : in) v = normal(rng);
  for (auto [name, fn] : {std::pair{"scalar", softmax_row_scalar}, std::pair{"avx512", softmax_row_avx512}}) {
    const auto t0 = std::chrono::steady_clock::now();
    float sink = 0;
    for (int64_t r = 0; r < reps; r++) {
      std::memcpy(row.data(), in.data(), n * 4);
      fn(row.data(), n, 0.125f);
      sink += row[r % n];
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: %.2f ns per element (rows of %lld; sink %g)\n", name, s / reps / n * 1e9, static_cast<long long>(n), sink);
  }
}

}  // namespace

int main() {
  check_rows();
  time_rows();
  check_exp();
  return 0;
}
