// Checker for rope-row-avx512.cc against the scalar reference (std::cos, std::sin: glibc's):
//  1. sincos8d over every float angle in [0, 2^18] (positions up to 262144 at inv_freq 1), in double ulps of
//     std::cos / std::sin (worst, and how many differ at all);
//  2. what the rope kernel stores: for every 8th of those angles, a rotated pair (x0 · cos − x1 · sin,
//     x1 · cos + x0 · sin in double, rounded to f32) with random x, from both tables: how many f32 results differ;
//  3. rope_rotate_avx512 against rope_rotate_scalar on random rows, both layouts, 1 to 40 pairs: rows that differ;
//  4. time per angle of both.
// Build and run (one line, from the repository root; x86-64 with AVX-512):
//   g++ -O3 -std=c++17 -march=x86-64-v4 -ffp-contract=off -I backends/cpu/native -o /tmp/rope-row-check
//     backends/cpu/dev/rope-row-check.cc backends/cpu/native/rope-row.cc && /tmp/rope-row-check
#include "../native/rope-row-avx512.cc"  // for sincos8d, in its anonymous namespace

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

using namespace dsa;

namespace {

double ulps(double got, double want) {
  if (got == want) return 0;
  const double step = std::fabs(std::nextafter(want, got) - want);
  return std::fabs(got - want) / step;
}

void check() {
  const float top = 262144.0f;
  uint32_t end;
  std::memcpy(&end, &top, 4);
  std::mt19937_64 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  double worst_sin = 0, worst_cos = 0;
  float worst_sin_at = 0, worst_cos_at = 0;
  uint64_t angles = 0, sin_differ = 0, cos_differ = 0, pairs = 0, outputs_differ = 0;
  alignas(64) double x[8], s[8], c[8];
  for (uint32_t b = 0; b <= end; b += 8) {
    for (int l = 0; l < 8; l++) {
      const uint32_t bits = b + l <= end ? b + l : end;
      float f;
      std::memcpy(&f, &bits, 4);
      x[l] = f;
    }
    __m512d sv, cv;
    sincos8d(_mm512_load_pd(x), sv, cv);
    _mm512_store_pd(s, sv);
    _mm512_store_pd(c, cv);
    for (int l = 0; l < 8; l++) {
      const double ws = std::sin(x[l]), wc = std::cos(x[l]);
      const double es = ulps(s[l], ws), ec = ulps(c[l], wc);
      angles++;
      sin_differ += es > 0;
      cos_differ += ec > 0;
      if (es > worst_sin) worst_sin = es, worst_sin_at = static_cast<float>(x[l]);
      if (ec > worst_cos) worst_cos = ec, worst_cos_at = static_cast<float>(x[l]);
    }
    // One rotated pair per 8 angles (lane 0), both tables.
    const double x0 = nd(rng), x1 = nd(rng);
    const float a_ref = static_cast<float>(x0 * std::cos(x[0]) - x1 * std::sin(x[0]));
    const float b_ref = static_cast<float>(x1 * std::cos(x[0]) + x0 * std::sin(x[0]));
    const float a_new = static_cast<float>(x0 * c[0] - x1 * s[0]);
    const float b_new = static_cast<float>(x1 * c[0] + x0 * s[0]);
    pairs += 2;
    outputs_differ += (a_ref != a_new) + (b_ref != b_new);
  }
  std::printf("sincos8d over %llu angles in [0, 2^18]: sin worst %.2f ulps (at %.9g), %.2e of angles differ; "
              "cos worst %.2f ulps (at %.9g), %.2e differ\n",
              static_cast<unsigned long long>(angles), worst_sin, worst_sin_at,
              static_cast<double>(sin_differ) / static_cast<double>(angles), worst_cos, worst_cos_at,
              static_cast<double>(cos_differ) / static_cast<double>(angles));
  std::printf("rotated f32 outputs: %llu of %llu differ from the std::cos / std::sin table's\n",
              static_cast<unsigned long long>(outputs_differ), static_cast<unsigned long long>(pairs));
}

void check_rotate() {
  std::mt19937_64 rng(9);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  uint64_t rows = 0, differ = 0;
  for (int half = 1; half <= 40; half++)
    for (int layout = 0; layout < 2; layout++)
      for (int rep = 0; rep < 2000; rep++) {
        std::vector<float> a(2 * half), b;
        std::vector<double> cs(half), sn(half);
        for (auto& v : a) v = nd(rng) * std::ldexp(1.0f, static_cast<int>(rng() % 20) - 10);
        for (int i = 0; i < half; i++) {
          const double t = nd(rng) * 100;
          cs[i] = std::cos(t) * 1.25, sn[i] = std::sin(t) * 1.25;
        }
        b = a;
        rope_rotate_scalar(a.data(), cs.data(), sn.data(), half, layout == 1);
        rope_rotate_avx512(b.data(), cs.data(), sn.data(), half, layout == 1);
        rows++;
        differ += std::memcmp(a.data(), b.data(), a.size() * 4) != 0;
      }
  std::printf("rope_rotate: %llu of %llu rows differ from the scalar reference\n",
              static_cast<unsigned long long>(differ), static_cast<unsigned long long>(rows));
}

void time_tables() {
  std::vector<float> freq(32);
  for (int i = 0; i < 32; i++) freq[i] = static_cast<float>(std::pow(10000.0, -i / 32.0));
  std::vector<double> cs(32), sn(32);
  for (int which = 0; which < 2; which++) {
    const int reps = 200000;
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; r++)
      (which ? rope_angles_scalar : rope_angles_avx512)(static_cast<float>(r % 65536), freq.data(), 32, 1.0, cs.data(), sn.data());
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: %.2f ns per angle (cos and sin)\n", which ? "scalar" : "avx512", ns / reps / 32);
  }
}

}  // namespace

int main() {
  check();
  check_rotate();
  time_tables();
}
