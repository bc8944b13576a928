// Microbenchmark of the f32 precision's attention scores (logits [H, T] = q [H, W] · rowsᵀ), one thread, one
// query: small's 256 gathered latent rows of 160 f32 (640 bytes) and 16 heads, drawn at random from a 1025-row
// window of a pool that is cache-resident (4096 rows, 2.6 MB) or not (32 sequences × 8 layers × 1025 rows, 168 MB).
//   dot:   the shipping path, gemm_avx512().dot (dot form: 16-lane partial sums, then a reduction per logit)
//   lanes: a losing candidate kept for the record: q transposed once (16 heads in the lanes), each row element
//          broadcast against it (8 rows × 16 heads per tile, no horizontal sums), every 16 rows transposed into
//          the logits; each logit one f32 FMA per element in order (checked against a scalar loop, exact)
// Session 21 (2-core Xeon VM, this bench): warm 6.0 (dot) against 3.9 µs (lanes); cold 15.1 against 22.0 µs: lanes
// walks 8 rows an element at a time, fewer lines in flight. With the rows of 4 blocks ahead prefetched into L2, in
// small's decode step from memory (--layers 240, calls alternating between the two paths in one process) lanes read
// the same as dot, 49-61 µs per attention call either way: the rows' memory latency decides. Not shipped.
// Build (one line, from the repository root; x86-64 with AVX-512):
//   g++ -O3 -std=c++17 -ffp-contract=off -I backends/cpu/native -o /tmp/mla-scores-f32-bench
//     backends/cpu/dev/mla-scores-f32-bench.cc backends/cpu/native/{gemm-avx512,gemm-avx2,gemm-portable,convert,tensor}.cc
// then run: /tmp/mla-scores-f32-bench
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "gemm.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")
#include "lane-masks-avx512.h"
#include "transpose16-avx512.h"

using namespace dsa;

namespace {

// qT[k, h] (16 heads a vector, zero past H) = q[h, k].
void transpose_q(const float* q, int64_t H, int64_t W, float* qT) {
  const int64_t Hv = (H + 15) / 16, ldt = Hv * 16;
  for (int64_t j = 0; j < Hv; j++)
    for (int64_t k = 0; k < W; k += 16) {
      __m512i r[16];
      for (int64_t l = 0; l < 16; l++)
        r[l] = 16 * j + l < H ? _mm512_maskz_loadu_epi32(first16(W - k), q + (16 * j + l) * W + k) : _mm512_setzero_si512();
      transpose16(r);
      for (int64_t e = 0; e < std::min<int64_t>(16, W - k); e++) _mm512_storeu_si512(qT + (k + e) * ldt + 16 * j, r[e]);
    }
}

// 8 rows × 16 heads: out[i, lane] = Σ_k row_i[k] · qT[k, lane].
void tile8(const float* const* rows, const float* qT, int64_t ldq, int64_t W, float* out) {
  __m512 acc[8];
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t k = 0; k < W; k++) {
    const __m512 qv = _mm512_loadu_ps(qT + k * ldq);
    for (int i = 0; i < 8; i++) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(rows[i][k]), qv, acc[i]);
  }
  for (int i = 0; i < 8; i++) _mm512_storeu_ps(out + 16 * i, acc[i]);
}

// logits [16, T] (H = 16) by the lanes layout; T a multiple of 16.
void scores_lanes(const float* qT, const float* const* rows, int64_t T, int64_t W, float* logits) {
  alignas(64) float block[16 * 16];
  for (int64_t b = 0; b < T / 16; b++) {
    tile8(rows + 16 * b, qT, 16, W, block);
    tile8(rows + 16 * b + 8, qT, 16, W, block + 128);
    __m512i r[16];
    for (int l = 0; l < 16; l++) r[l] = _mm512_load_si512(block + 16 * l);
    transpose16(r);
    for (int h = 0; h < 16; h++) _mm512_storeu_si512(logits + h * T + 16 * b, r[h]);
  }
}

}  // namespace
#pragma GCC pop_options

int main() {
  constexpr int64_t W = 160, H = 16, T = 256, kWindow = 1025;
  std::mt19937_64 rng(1);
  std::vector<float> q(H * W), qT(W * 16), ref(H * T), got(H * T);
  for (auto& v : q) v = std::uniform_real_distribution<float>(-1, 1)(rng);
  transpose_q(q.data(), H, W, qT.data());
  for (const size_t pool_rows : {size_t{4096}, size_t{32 * 8 * kWindow}}) {
    const size_t bytes = (pool_rows * W * 4 + (2u << 20) - 1) / (2u << 20) * (2u << 20);
    auto* pool = static_cast<float*>(mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    madvise(pool, bytes, MADV_HUGEPAGE);
    for (size_t i = 0; i < pool_rows * W; i++) pool[i] = std::uniform_real_distribution<float>(-1, 1)(rng);
    const bool warm = pool_rows == 4096;
    double best[2] = {1e9, 1e9};
    for (int it = 0; it < 400; it++) {
      const size_t window = warm ? 0 : rng() % (pool_rows - kWindow);
      std::vector<const float*> rows(T);
      for (auto& r : rows) r = pool + (window + rng() % kWindow) * W;
      std::vector<const uint8_t*> wrows(T);
      for (int64_t t = 0; t < T; t++) wrows[t] = reinterpret_cast<const uint8_t*>(rows[t]);
      const DotGemm g{q.data(), W, H, W, wrows.data(), DType::f32, nullptr, W, got.data(), T, 1.0f};
      for (int variant = 0; variant < 2; variant++) {
        if (!warm && variant == 1)  // fresh rows for the second path too
          for (auto& r : rows) r = pool + (rng() % (pool_rows - kWindow) + rng() % kWindow) * W;
        const auto t0 = std::chrono::steady_clock::now();
        if (variant == 0)
          gemm_avx512().dot(g, 0, T / 2);
        else
          scores_lanes(qT.data(), rows.data(), T / 2, W, got.data());
        best[variant] = std::min(best[variant], std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
      }
    }
    // The lanes layout against a scalar loop of f32 FMAs, element order: exact.
    std::vector<const float*> rows(T);
    for (auto& r : rows) r = pool + rng() % pool_rows * W;
    scores_lanes(qT.data(), rows.data(), T, W, got.data());
    int64_t mismatches = 0;
    for (int64_t h = 0; h < H; h++)
      for (int64_t t = 0; t < T; t++) {
        float s = 0;
        for (int64_t k = 0; k < W; k++) s = std::fma(q[h * W + k], rows[t][k], s);
        mismatches += s != got[h * T + t];
      }
    std::printf("%s rows, 128 of them × 16 heads × %lld: dot %.2f µs, lanes %.2f µs (best of 400); lanes vs scalar FMA loop: %lld mismatches\n",
                warm ? "warm" : "cold", static_cast<long long>(W), best[0], best[1], static_cast<long long>(mismatches));
    munmap(pool, bytes);
  }
}
