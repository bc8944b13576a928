// topK: the k largest entries of each row, ties to the lower index, -inf/NaN never selected, listed in
// ascending index order, -1 / -inf padded. One block per row: an 8-bit radix select finds the k-th
// largest key (histogram counts are exact, so the result is deterministic), then an ordered
// compaction writes the winners, taking equal-to-threshold entries lowest index first.
#include "../common/tensor.cuh"

using namespace dsa;

namespace {

constexpr int kTopKThreads = 512;

// Order-preserving unsigned key of a float; -0 counts as +0 (they tie in the reference's comparison).
__device__ __forceinline__ uint32_t float_key(float v) {
  uint32_t u = v == 0.0f ? 0u : __float_as_uint(v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__device__ __forceinline__ bool selectable(float v) { return v > -__int_as_float(0x7f800000); }

// Inclusive scan of `value` over the block; `total` receives the block sum.
__device__ __forceinline__ int block_scan(int value, int* shared, int* total) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int o = 1; o < kTopKThreads; o <<= 1) {
    const int add = threadIdx.x >= o ? shared[threadIdx.x - o] : 0;
    __syncthreads();
    shared[threadIdx.x] += add;
    __syncthreads();
  }
  const int result = shared[threadIdx.x];
  *total = shared[kTopKThreads - 1];
  __syncthreads();
  return result;
}

}  // namespace

// indices [R, k] i32; values [R, k] (hasValues) ; x [R, N].
extern "C" __global__ void __launch_bounds__(kTopKThreads)
    dsa_top_k(Tensor indices, Tensor values, int32_t hasValues, Tensor x, int32_t k) {
  __shared__ int hist[256];
  __shared__ int scan[kTopKThreads];
  __shared__ uint32_t s_prefix;
  __shared__ int s_remaining;
  __shared__ int s_count;
  const int64_t n = x.shape[1];
  for (int64_t r = blockIdx.x; r < x.shape[0]; r += gridDim.x) {
    const int64_t xo = r * x.strides[0];
    if (threadIdx.x == 0) s_count = 0;
    __syncthreads();
    int local = 0;
    for (int64_t i = threadIdx.x; i < n; i += kTopKThreads) local += selectable(loadf(x, xo + i * x.strides[1]));
    atomicAdd(&s_count, local);
    __syncthreads();
    const int count = s_count;
    uint32_t threshold = 0;
    int need = 0;
    const bool all = count <= k;
    if (!all) {
      uint32_t prefix = 0, mask = 0;
      int remaining = k;
      for (int shift = 24; shift >= 0; shift -= 8) {
        for (int b = threadIdx.x; b < 256; b += kTopKThreads) hist[b] = 0;
        __syncthreads();
        for (int64_t i = threadIdx.x; i < n; i += kTopKThreads) {
          const float v = loadf(x, xo + i * x.strides[1]);
          if (!selectable(v)) continue;
          const uint32_t key = float_key(v);
          if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 0xff], 1);
        }
        __syncthreads();
        if (threadIdx.x == 0) {
          int above = 0, b = 255;
          for (; b > 0; b--) {
            if (above + hist[b] >= remaining) break;
            above += hist[b];
          }
          s_prefix = prefix | (static_cast<uint32_t>(b) << shift);
          s_remaining = remaining - above;
        }
        __syncthreads();
        prefix = s_prefix;
        remaining = s_remaining;
        mask |= 0xffu << shift;
        __syncthreads();
      }
      threshold = prefix;
      need = remaining;  // entries equal to the threshold to keep, lowest index first
    }
    int written = 0, equalSeen = 0;
    for (int64_t base = 0; base < n; base += kTopKThreads) {
      const int64_t i = base + threadIdx.x;
      float v = 0;
      bool ok = false, equal = false;
      if (i < n) {
        v = loadf(x, xo + i * x.strides[1]);
        if (selectable(v)) {
          const uint32_t key = float_key(v);
          ok = all || key > threshold;
          equal = !all && key == threshold;
        }
      }
      int equalTotal;
      const int equalRank = block_scan(equal ? 1 : 0, scan, &equalTotal) - (equal ? 1 : 0) + equalSeen;
      if (equal && equalRank < need) ok = true;
      equalSeen += equalTotal;
      int keptTotal;
      const int position = block_scan(ok ? 1 : 0, scan, &keptTotal) - (ok ? 1 : 0) + written;
      if (ok && position < k) {
        store(indices, r * indices.strides[0] + position * indices.strides[1], static_cast<double>(i));
        if (hasValues) store(values, r * values.strides[0] + position * values.strides[1], v);
      }
      written += keptTotal;
    }
    for (int64_t p = written + threadIdx.x; p < k; p += kTopKThreads) {
      store(indices, r * indices.strides[0] + p * indices.strides[1], -1.0);
      if (hasValues) store(values, r * values.strides[0] + p * values.strides[1], -__longlong_as_double(0x7ff0000000000000LL));
    }
    __syncthreads();
  }
}
