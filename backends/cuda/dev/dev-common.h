// Shared helpers of the standalone kernel programs in dev/ (llm.c style): error checks, a seeded
// random source, host bf16/fp8 conversions, cudaEvent timing (warm-up + median) and JSON output.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#define CUDA_CHECK(call)                                                                            \
  do {                                                                                              \
    cudaError_t err_ = (call);                                                                      \
    if (err_ != cudaSuccess) {                                                                      \
      std::fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorName(err_), __FILE__, __LINE__, \
                   cudaGetErrorString(err_));                                                       \
      std::exit(2);                                                                                 \
    }                                                                                               \
  } while (0)

namespace dev {

struct Random {
  uint64_t state;
  explicit Random(uint64_t seed) : state(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
  double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
  float normal() {
    double u = std::max(uniform(), 1e-300), v = uniform();
    return static_cast<float>(std::sqrt(-2 * std::log(u)) * std::cos(6.283185307179586 * v));
  }
  int below(int n) { return static_cast<int>(next() % static_cast<uint64_t>(n)); }
};

inline float bf16_to_f32(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float fp8_to_f32(uint8_t v) {
  const uint32_t e = (v >> 3) & 15u, m = v & 7u;
  float r = e == 0 ? m * 0.001953125f : std::ldexp(1.0f + m / 8.0f, static_cast<int>(e) - 7);
  return (v & 0x80u) ? -r : r;
}
// A random finite e4m3 byte (never the NaN codes 0x7f / 0xff), magnitudes up to 2^(emax - 7).
inline uint8_t random_fp8(Random& rng, int emax = 10) {
  for (;;) {
    uint8_t b = static_cast<uint8_t>(rng.next());
    int e = (b >> 3) & 15;
    if ((b & 0x7f) == 0x7f || e > emax) continue;
    return b;
  }
}

template <class T>
T* to_device(const std::vector<T>& host) {
  T* d = nullptr;
  CUDA_CHECK(cudaMalloc(&d, std::max<size_t>(1, host.size() * sizeof(T))));
  if (!host.empty()) CUDA_CHECK(cudaMemcpy(d, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}
template <class T>
std::vector<T> to_host(const T* d, size_t n) {
  std::vector<T> h(n);
  CUDA_CHECK(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
  return h;
}

// Median time in microseconds of `iters` runs of fn after `warmup` runs.
inline double time_us(const std::function<void()>& fn, int warmup = 5, int iters = 30) {
  for (int i = 0; i < warmup; i++) fn();
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaDeviceSynchronize());
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  std::vector<double> times;
  for (int i = 0; i < iters; i++) {
    CUDA_CHECK(cudaEventRecord(a));
    fn();
    CUDA_CHECK(cudaEventRecord(b));
    CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    times.push_back(ms * 1000.0);
  }
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaEventDestroy(a));
  CUDA_CHECK(cudaEventDestroy(b));
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// The device's memory bandwidth by its attributes (2 transfers per clock × bus width), GB/s: 3352 on an
// H100 SXM (HBM3), 4800 on an H200.
inline double hbm_peak_gbps() {
  int clock_khz = 0, bus_bits = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, 0));
  CUDA_CHECK(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0));
  return 2.0 * clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;
}
inline std::string device_name() {
  cudaDeviceProp p{};
  CUDA_CHECK(cudaGetDeviceProperties(&p, 0));
  return p.name;
}

// Reference top-k: the k largest (ties to the lower index), ascending indices, -1 padded.
inline std::vector<int32_t> reference_top_k(const float* row, int n, int k) {
  std::vector<int32_t> c;
  for (int i = 0; i < n; i++)
    if (row[i] > -INFINITY) c.push_back(i);
  if (static_cast<int>(c.size()) > k) {
    auto better = [row](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); };
    std::nth_element(c.begin(), c.begin() + (k - 1), c.end(), better);
    c.resize(k);
  }
  std::sort(c.begin(), c.end());
  while (static_cast<int>(c.size()) < k) c.push_back(-1);
  return c;
}

// The larger of a running maximum error and d, with NaN as infinity (NaN must never pass a check).
inline double worst(double current, double d) { return std::isnan(d) ? INFINITY : std::max(current, d); }

// Failure count shared by a program's checks; main returns it.
inline int& failures() {
  static int n = 0;
  return n;
}
inline void check(bool ok, const std::string& what) {
  std::printf("# check %s: %s\n", ok ? "ok" : "FAILED", what.c_str());
  if (!ok) failures()++;
}

}  // namespace dev
