// Per-row top-k by radix selection on the order-preserving u32 key of the f32 score, one CTA per row.
// Never sorts the row: 11/11/10-bit digit histograms find the exact k-th key K, then a bitmap of the
// chosen positions (key > K, plus the lowest-index ties key == K) is compacted in index order.
//
//   pass A  (row)        histogram of digit 1 (key >> 21) over valid entries (> -inf, not NaN)
//   pass B  (row)        key digit1 > bin1 -> bitmap; digit1 == bin1 -> candidate list in smem
//   digits 2, 3          histograms over the candidates (or over the row when they overflow smem)
//   ties                 an ordered scan takes the first `need` positions with key == K
//   compaction           popcounts of the bitmap words + block scan -> ascending indices, -1 padding
//
// The result is exactly the packages/backend topK contract: the k largest (ties to the lower index),
// ascending index order, -inf and NaN never chosen, -1 padding when fewer than k are valid.
//
// Shared memory (dynamic, u32 words): [kHistBins hist | bitmap_words bitmap | cap candidates].
#pragma once
#include "fused-common.cuh"

namespace dsa_fused {

constexpr int kHistBins = 2048;
constexpr int kTopKThreads = 1024;

// Words of dynamic shared memory a row of `n` entries needs besides the candidates.
__host__ __device__ constexpr int top_k_fixed_words(int n) { return kHistBins + (n + 31) / 32; }

struct TopKShared {
  uint32_t warp_sums[32];
  uint32_t bin;
  uint32_t above;
  uint32_t found;
  uint32_t candidates;
  uint32_t running;
  uint32_t total;
};

// Exclusive block-wide prefix sum of v; *total receives the block sum. All threads must call it.
__device__ __forceinline__ uint32_t block_exclusive_scan(uint32_t v, TopKShared& sh, uint32_t* total) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  uint32_t inclusive = v;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const uint32_t y = __shfl_up_sync(0xffffffffu, inclusive, o);
    if (lane >= o) inclusive += y;
  }
  if (lane == 31) sh.warp_sums[warp] = inclusive;
  __syncthreads();
  if (warp == 0) {
    uint32_t x = lane < warps ? sh.warp_sums[lane] : 0;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const uint32_t y = __shfl_up_sync(0xffffffffu, x, o);
      if (lane >= o) x += y;
    }
    sh.warp_sums[lane] = x;  // inclusive prefix over warps
  }
  __syncthreads();
  const uint32_t before = (warp > 0 ? sh.warp_sums[warp - 1] : 0) + inclusive - v;
  *total = sh.warp_sums[warps - 1];
  __syncthreads();
  return before;
}

// Finds the bin b (scanning from the top) with Σ_{i>b} hist[i] < kk ≤ Σ_{i≥b} hist[i]; sets sh.bin,
// sh.above (= Σ_{i>b}) and sh.found. Bins are owned in descending order by consecutive threads.
__device__ __forceinline__ void find_bin(const uint32_t* hist, int bins, uint32_t kk, TopKShared& sh) {
  const int per = (bins + blockDim.x - 1) / blockDim.x;
  const int first = threadIdx.x * per;  // rank from the top
  uint32_t local = 0;
  for (int j = 0; j < per; j++) {
    const int r = first + j;
    if (r < bins) local += hist[bins - 1 - r];
  }
  if (threadIdx.x == 0) sh.found = 0;
  uint32_t total;
  uint32_t before = block_exclusive_scan(local, sh, &total);
  for (int j = 0; j < per; j++) {
    const int r = first + j;
    if (r >= bins) break;
    const uint32_t h = hist[bins - 1 - r];
    if (before < kk && kk <= before + h) {
      sh.bin = static_cast<uint32_t>(bins - 1 - r);
      sh.above = before;
      sh.found = 1;
    }
    before += h;
  }
  __syncthreads();
}

// Key of a score with -0 folded into +0 (they compare equal, so they must tie).
__device__ __forceinline__ uint32_t canonical_key(float v) { return order_key(v == 0.0f ? 0u : __float_as_uint(v)); }

__device__ __forceinline__ bool score_key(float v, uint32_t* key) {
  *key = canonical_key(v);
  return v > -INFINITY;  // false for -inf and NaN
}

// Elements e0 .. e0 + 3 of the row (-inf past the end: never valid); one float4 load when aligned.
__device__ __forceinline__ void load4(const float* __restrict__ row, int n, int e0, bool aligned, float (&v)[4]) {
  if (aligned && e0 + 3 < n) {
    const float4 x = *reinterpret_cast<const float4*>(row + e0);
    v[0] = x.x;
    v[1] = x.y;
    v[2] = x.z;
    v[3] = x.w;
  } else {
#pragma unroll
    for (int j = 0; j < 4; j++) v[j] = e0 + j < n ? row[e0 + j] : -INFINITY;
  }
}

// Sets the bits `nibble` (bit j = element e0 + j) of the bitmap; lanes 8q .. 8q + 7 of a warp hold the
// 32 consecutive elements of one word (e0 = base + 4 · thread with base a multiple of 128), so one
// plain OR per word suffices. All lanes must call it.
__device__ __forceinline__ void mark4(uint32_t* bitmap, int e0, uint32_t nibble) {
  const int lane = threadIdx.x & 31;
  uint32_t word = nibble << (4 * (lane & 7));
  word |= __shfl_xor_sync(0xffffffffu, word, 1);
  word |= __shfl_xor_sync(0xffffffffu, word, 2);
  word |= __shfl_xor_sync(0xffffffffu, word, 4);
  if ((lane & 7) == 0 && word != 0) bitmap[e0 >> 5] |= word;
}

// Ascending indices of the set bits of bitmap[0, words) into out[0, k), -1 padding (the radix select's last step).
__device__ __forceinline__ void compact_bitmap(const uint32_t* bitmap, int words, int k, int32_t* __restrict__ out,
                                               TopKShared& sh) {
  const int tid = threadIdx.x, T = blockDim.x;
  const int per = (words + T - 1) / T;
  const int w0 = tid * per;
  uint32_t count = 0;
  for (int w = w0; w < w0 + per && w < words; w++) count += __popc(bitmap[w]);
  uint32_t chosen;
  uint32_t at = block_exclusive_scan(count, sh, &chosen);
  for (int w = w0; w < w0 + per && w < words; w++) {
    uint32_t bits = bitmap[w];
    while (bits != 0) {
      const int b = __ffs(bits) - 1;
      bits &= bits - 1;
      if (at < static_cast<uint32_t>(k)) out[at] = w * 32 + b;
      at++;
    }
  }
  for (uint32_t j = chosen + tid; j < static_cast<uint32_t>(k); j += T) out[j] = -1;
}

// Top-k of row[0, n): writes k indices to out. smem as described above; cap = candidate capacity.
__device__ inline void radix_top_k_row(const float* __restrict__ row, int n, int k, int32_t* __restrict__ out,
                                uint32_t* smem, int cap, TopKShared& sh) {
  uint32_t* hist = smem;
  uint32_t* bitmap = smem + kHistBins;
  const int words = (n + 31) / 32;
  uint32_t* cand = bitmap + words;
  const int tid = threadIdx.x, T = blockDim.x;
  for (int i = tid; i < kHistBins; i += T) hist[i] = 0;
  for (int i = tid; i < words; i += T) bitmap[i] = 0;
  if (tid == 0) sh.candidates = 0;
  __syncthreads();

  // pass A: digit-1 histogram, warp-aggregated; 16 elements per thread per step (four float4 loads
  // in flight).
  const bool aligned = (reinterpret_cast<uintptr_t>(row) & 15u) == 0;
  constexpr int kLoads = 4;
  const int step = 4 * kLoads * T;
  uint32_t valid_count = 0;
  for (int base = 0; base < n; base += step) {
    float v[kLoads][4];
#pragma unroll
    for (int u = 0; u < kLoads; u++) load4(row, n, base + 4 * T * u + 4 * tid, aligned, v[u]);
#pragma unroll
    for (int u = 0; u < kLoads; u++)
#pragma unroll
      for (int j = 0; j < 4; j++) {
        uint32_t key;
        const bool valid = score_key(v[u][j], &key);
        valid_count += valid;
        const uint32_t bin = valid ? key >> 21 : 0xffffffffu;
        const uint32_t peers = __match_any_sync(0xffffffffu, bin);
        if (valid && (threadIdx.x & 31) == __ffs(peers) - 1) atomicAdd(&hist[bin], __popc(peers));
      }
  }
  uint32_t valid_total;
  block_exclusive_scan(valid_count, sh, &valid_total);  // also a barrier for hist

  if (valid_total <= static_cast<uint32_t>(k)) {
    for (int base = 0; base < n; base += 4 * T) {
      float v[4];
      const int e0 = base + 4 * tid;
      load4(row, n, e0, aligned, v);
      uint32_t nibble = 0, key;
#pragma unroll
      for (int j = 0; j < 4; j++) nibble |= score_key(v[j], &key) ? 1u << j : 0u;
      mark4(bitmap, e0, nibble);
    }
  } else {
    find_bin(hist, kHistBins, k, sh);
    const uint32_t b1 = sh.bin, count1 = hist[b1];
    uint32_t need = k - sh.above;
    const bool in_smem = count1 <= static_cast<uint32_t>(cap);
    // pass B: definite winners to the bitmap, the threshold bin's members to the candidate list.
    for (int base = 0; base < n; base += step) {
      float v[kLoads][4];
#pragma unroll
      for (int u = 0; u < kLoads; u++) load4(row, n, base + 4 * T * u + 4 * tid, aligned, v[u]);
#pragma unroll
      for (int u = 0; u < kLoads; u++) {
        const int e0 = base + 4 * T * u + 4 * tid;
        uint32_t nibble = 0;
#pragma unroll
        for (int j = 0; j < 4; j++) {
          uint32_t key;
          const bool valid = score_key(v[u][j], &key);
          const uint32_t d1 = key >> 21;
          if (valid && d1 > b1) nibble |= 1u << j;
          if (in_smem && valid && d1 == b1) cand[atomicAdd(&sh.candidates, 1u)] = static_cast<uint32_t>(e0 + j);
        }
        mark4(bitmap, e0, nibble);
      }
    }
    __syncthreads();
    for (int i = tid; i < kHistBins; i += T) hist[i] = 0;
    __syncthreads();
    const uint32_t ncand = sh.candidates;
    // digit 2 (bits 20..10) among keys with digit 1 == b1
    if (in_smem) {
      for (uint32_t j = tid; j < ncand; j += T) {
        const uint32_t key = canonical_key(row[cand[j]]);
        atomicAdd(&hist[(key >> 10) & 2047u], 1u);
      }
    } else {
      for (int i = tid; i < n; i += T) {
        uint32_t key;
        if (score_key(row[i], &key) && (key >> 21) == b1) atomicAdd(&hist[(key >> 10) & 2047u], 1u);
      }
    }
    __syncthreads();
    find_bin(hist, 2048, need, sh);
    const uint32_t b2 = sh.bin;
    need -= sh.above;
    const uint32_t prefix2 = (b1 << 11) | b2;  // key >> 10
    for (int i = tid; i < kHistBins; i += T) hist[i] = 0;
    __syncthreads();
    // digit 3 (bits 9..0)
    if (in_smem) {
      for (uint32_t j = tid; j < ncand; j += T) {
        const uint32_t key = canonical_key(row[cand[j]]);
        if ((key >> 10) == prefix2) atomicAdd(&hist[key & 1023u], 1u);
      }
    } else {
      for (int i = tid; i < n; i += T) {
        uint32_t key;
        if (score_key(row[i], &key) && (key >> 10) == prefix2) atomicAdd(&hist[key & 1023u], 1u);
      }
    }
    __syncthreads();
    find_bin(hist, 1024, need, sh);
    const uint32_t threshold = (prefix2 << 10) | sh.bin;
    need -= sh.above;
    const uint32_t equal = hist[sh.bin];
    const bool take_all_equal = need == equal;
    // winners inside the threshold bin of digit 1
    if (in_smem) {
      for (uint32_t j = tid; j < ncand; j += T) {
        const uint32_t i = cand[j];
        const uint32_t key = canonical_key(row[i]);
        if (key > threshold || (take_all_equal && key == threshold)) atomicOr(&bitmap[i >> 5], 1u << (i & 31));
      }
    } else {
      for (int base = 0; base < n; base += 4 * T) {
        float v[4];
        const int e0 = base + 4 * tid;
        load4(row, n, e0, aligned, v);
        uint32_t nibble = 0;
#pragma unroll
        for (int j = 0; j < 4; j++) {
          uint32_t key;
          const bool valid = score_key(v[j], &key);
          if (valid && (key >> 21) == b1 && (key > threshold || (take_all_equal && key == threshold))) nibble |= 1u << j;
        }
        mark4(bitmap, e0, nibble);
      }
    }
    if (!take_all_equal) {
      // ties straddle the boundary: the first `need` positions (in index order) with key == threshold.
      if (tid == 0) sh.running = 0;
      __syncthreads();
      for (int base = 0; base < n; base += T) {
        const int i = base + tid;
        uint32_t key = 0;
        const bool tie = i < n && score_key(row[i], &key) && key == threshold;
        uint32_t total;
        const uint32_t before = block_exclusive_scan(tie ? 1u : 0u, sh, &total) + sh.running;
        if (tie && before < need) atomicOr(&bitmap[i >> 5], 1u << (i & 31));
        __syncthreads();
        if (tid == 0) sh.running += total;
        __syncthreads();
        if (sh.running >= need) break;
      }
    }
  }
  __syncthreads();
  // compaction: consecutive words per thread, block scan of popcounts.
  compact_bitmap(bitmap, words, k, out, sh);
}

}  // namespace dsa_fused

// A one-CTA-per-row top-k kernel NAME (kTopKThreads threads) over SELECT_ROW (radix_top_k_row or
// filter_top_k_row): row r of scores [rows, row_stride] (its first min(n, positions[r] + 1) entries when
// `positions` is given) into out[r, 0:k]. Dynamic shared memory: 4 · (top_k_fixed_words(n) + cap) bytes.
#define DSA_TOP_K_ROWS_KERNEL(NAME, SELECT_ROW)                                                                 \
  extern "C" __global__ void __launch_bounds__(dsa_fused::kTopKThreads)                                         \
      NAME(const float* scores, int64_t row_stride, const int32_t* positions, int n, int k, int32_t* out,        \
           int cap) {                                                                                           \
    extern __shared__ uint32_t smem[];                                                                          \
    __shared__ dsa_fused::TopKShared sh;                                                                        \
    const int64_t r = blockIdx.x;                                                                               \
    int length = n;                                                                                             \
    if (positions != nullptr) length = min(n, max(0, positions[r] + 1));                                       \
    SELECT_ROW(scores + r * row_stride, length, k, out + r * static_cast<int64_t>(k), smem, cap, sh);            \
  }
