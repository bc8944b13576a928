// An FMA throughput probe. A formula (cores × GHz × lanes × 2 × FMA units) gets both factors it cannot see
// wrong on some machines: the clock /proc/cpuinfo reports on a VM is the nominal one (2.6 GHz where the cores
// run at ~3.7), and Zen 4 issues one 512-bit FMA per cycle (its two 256-bit pipes together), not two. So the
// peak is measured: kChains independent FMA chains per task (FMA latency × issue width needs at least 8),
// tasks spread over the pool, the best of 3 passes. In the bf16 precision (isa kAvx512Bf16) the matrix
// kernels multiply with vdpbf16ps, so that is the peak measured (two multiply-adds per lane: 4 FLOPs), or with
// AMX tiles where has_amx_bf16(): then TDPBF16PS's.
#include "fma-peak.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "amx-tile-config.h"
#include "cpu-features.h"
#include "dtype.h"
#include "pool.h"

namespace dsa {
namespace {

constexpr int kChains = 12;
constexpr int64_t kIterations = 1 << 21;  // per task: 25M FMAs, a few ms on one core

__attribute__((target("avx512f"))) float chains_avx512(int64_t iterations) {
  __m512 a[kChains];
  for (int i = 0; i < kChains; i++) a[i] = _mm512_set1_ps(1.0f + 1e-3f * static_cast<float>(i));
  const __m512 m = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
  for (int64_t n = 0; n < iterations; n++) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; i++) a[i] = _mm512_fmadd_ps(a[i], m, c);
  }
  for (int i = 1; i < kChains; i++) a[0] = _mm512_add_ps(a[0], a[i]);
  return _mm512_reduce_add_ps(a[0]);
}

// The bf16 precision's matrix instruction: vdpbf16ps does two multiply-adds per f32 lane (4 FLOPs).
__attribute__((target("avx512f,avx512bf16"))) float chains_dpbf16(int64_t iterations) {
  __m512 a[kChains];
  for (int i = 0; i < kChains; i++) a[i] = _mm512_set1_ps(1e-3f * static_cast<float>(i));
  const __m512bh m = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
  for (int64_t n = 0; n < iterations; n++) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; i++) a[i] = _mm512_dpbf16_ps(a[i], m, m);
  }
  for (int i = 1; i < kChains; i++) a[0] = _mm512_add_ps(a[0], a[i]);
  return _mm512_reduce_add_ps(a[0]);
}

// The bf16 precision's matrix instruction where has_amx_bf16(): TDPBF16PS, 16 × 16 f32 outputs each adding
// 32 products (16384 FLOPs), on 4 independent C tiles from A and B tiles that stay in registers.
__attribute__((target("amx-tile,amx-bf16,avx512f"))) float chains_amx(int64_t iterations) {
  AmxTileConfig config;
  for (int t = 0; t < 8; t++) config.tile(t, 16, 64);
  _tile_loadconfig(&config);  // not config.load(): this file has no amx-tile target region
  alignas(64) static const uint16_t ones[16 * 32] = {};
  _tile_loadd(4, ones, 64);
  _tile_loadd(5, ones, 64);
  _tile_loadd(6, ones, 64);
  _tile_loadd(7, ones, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t n = 0; n < iterations; n++) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  alignas(64) float c[16 * 16];
  _tile_stored(0, c, 64);
  _tile_release();
  return c[0];
}

__attribute__((target("avx2,fma"))) float chains_avx2(int64_t iterations) {
  __m256 a[kChains];
  for (int i = 0; i < kChains; i++) a[i] = _mm256_set1_ps(1.0f + 1e-3f * static_cast<float>(i));
  const __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t n = 0; n < iterations; n++) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; i++) a[i] = _mm256_fmadd_ps(a[i], m, c);
  }
  for (int i = 1; i < kChains; i++) a[0] = _mm256_add_ps(a[0], a[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, a[0]);
  float s = 0;
  for (float v : lanes) s += v;
  return s;
}

// The portable kernels multiply and add separately (no FMA in baseline x86-64): two FLOPs per pair, scalar
// (the empty asm keeps each chain a scalar register the compiler can neither vectorize nor fold away).
float chains_portable(int64_t iterations) {
  float a[kChains];
  for (int i = 0; i < kChains; i++) a[i] = 1.0f + 1e-3f * static_cast<float>(i);
  for (int64_t n = 0; n < iterations; n++) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; i++) {
      a[i] = a[i] * 0.9999999f + 1e-7f;
      asm volatile("" : "+x"(a[i]));
    }
  }
  float s = 0;
  for (float v : a) s += v;
  return s;
}

}  // namespace

double fma_peak_gflops(int isa, int threads) {
  const int lanes = isa >= kAvx512 ? 16 : isa == kAvx2 ? 8 : 1;
  Context ctx;
  ctx.threads = std::max(1, threads);
  ThreadPool::get().reserve(ctx.threads);
  const int64_t tasks = static_cast<int64_t>(ctx.threads) * 4;  // parallel_for's chunks per thread
  const bool amx = isa >= kAvx512Bf16 && has_amx_bf16();
  // AMX: 4 TDPBF16PS (about 16 cycles each) per iteration instead of 12 one-cycle FMAs.
  const int64_t iterations = amx ? kIterations / 16 : isa >= kAvx2 ? kIterations : kIterations / 4;
  std::vector<float> sinks(static_cast<size_t>(tasks), 0.0f);
  double best = 0;
  for (int pass = 0; pass < 3; pass++) {
    const auto start = std::chrono::steady_clock::now();
    parallel_for(ctx, tasks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; t++)
        sinks[static_cast<size_t>(t)] = amx                  ? chains_amx(iterations)
                                        : isa >= kAvx512Bf16 ? chains_dpbf16(iterations)
                                        : isa >= kAvx512 ? chains_avx512(iterations)
                                        : isa == kAvx2 ? chains_avx2(iterations)
                                                       : chains_portable(iterations);
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double per_lane = isa >= kAvx512Bf16 ? 4.0 : 2.0;  // vdpbf16ps: two multiply-adds per lane
    const double flops = amx ? static_cast<double>(tasks) * static_cast<double>(iterations) * 4 * 16384
                             : static_cast<double>(tasks) * static_cast<double>(iterations) * kChains * lanes * per_lane;
    if (seconds > 0) best = std::max(best, flops / seconds / 1e9);
  }
  volatile float sink = 0;
  for (float s : sinks) sink = sink + s;
  return best;
}

}  // namespace dsa
