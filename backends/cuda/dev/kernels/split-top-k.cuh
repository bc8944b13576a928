// Top-k of few long rows (v3): each row split over kSplitCtas CTAs, then one CTA per row selects.
//
//   dsa_fused_top_k_split_filter  grid (kSplitCtas, rows), kSplitThreads threads. Every CTA of a row
//       computes the same sampled threshold t as v2 (filter-top-k.cuh step 1: kFilterSamples evenly
//       spaced entries, the key of rank ≈ 1.5·k·S/n), then filters its slice [c·slice, (c+1)·slice)
//       with ordered block scans: cand[row][c][0, count) holds the indices with valid key ≥ t in
//       ascending order, counts[row][c] = count (0xffffffff: no threshold could be placed).
//   dsa_fused_top_k_split_select  grid rows, kTopKThreads threads, v1/v2 dynamic shared memory. Per-CTA
//       offsets (prefix sum of the counts, in CTA order) gather the candidates in ascending index order
//       with their keys; then v2's exact select (k-th largest key K, the `need` lowest-index ties at K)
//       and an ordered compaction over the (sorted) list: no bitmap, no atomics on positions.
// Anything the split cannot settle (short row, k ≥ len / 4, no threshold, < k or too many candidates)
// runs v2 (filter_top_k_row, which itself falls back to v1) on that row in the select kernel, so the
// result is always exactly the topK contract. Both kernels take the same arguments:
//   (scores, row_stride, positions, n, k, out, cap, cand, counts); cand: rows · kSplitCtas ·
//   split_slice(n) u32 words, counts: rows · kSplitCtas u32 (workspace; nothing to clear).
#pragma once
#include "../../kernels/fused/filter-top-k.cuh"

namespace dsa_fused {

constexpr int kSplitCtas = 64;
constexpr int kSplitThreads = 512;
constexpr int kSplitMinRow = 32768;
constexpr uint32_t kSplitNoThreshold = 0xffffffffu;

// Entries per CTA slice (a multiple of 4: float4 loads stay aligned); also the cand stride.
__host__ __device__ constexpr int split_slice(int n) { return ((n + kSplitCtas - 1) / kSplitCtas + 3) & ~3; }

// Candidate capacity of the select kernel: its dynamic shared memory (v1/v2 layout for rows of n,
// cap candidates) re-cut as [hist | list | keys].
__host__ __device__ constexpr int split_capacity(int n, int cap) { return (top_k_fixed_words(n) + cap - kHistBins) / 2; }

__host__ __device__ inline bool split_usable(int len, int k, int n, int cap) {
  return len >= kSplitMinRow && k >= 1 && k < len / 4 &&
         5 * static_cast<int64_t>(k) <= 2 * static_cast<int64_t>(split_capacity(n, cap));
}

// v2's sampled threshold of row[0, len): false when too few valid samples place one.
__device__ inline bool sample_threshold(const float* __restrict__ row, int len, int k, uint32_t* samples, uint32_t* hist,
                                        TopKShared& sh, uint32_t* t) {
  const int tid = threadIdx.x, T = blockDim.x, lane = tid & 31;
  if (tid == 0) sh.candidates = 0;
  __syncthreads();
  for (int s0 = 0; s0 < kFilterSamples; s0 += T) {
    const int s = s0 + tid;
    uint32_t key = 0;
    const bool valid =
        s < kFilterSamples && score_key(__ldg(row + static_cast<int64_t>(s) * len / kFilterSamples), &key);
    const uint32_t ballot = __ballot_sync(0xffffffffu, valid);
    uint32_t base = 0;
    if (lane == 0 && ballot != 0) base = atomicAdd(&sh.candidates, __popc(ballot));
    base = __shfl_sync(0xffffffffu, base, 0);
    if (valid) samples[base + __popc(ballot & ((1u << lane) - 1u))] = key;  // order irrelevant: a rank
  }
  __syncthreads();
  const uint32_t sampled = sh.candidates;
  const uint32_t r = static_cast<uint32_t>((3 * static_cast<int64_t>(k) * kFilterSamples + 2 * len - 1) / (2 * len));
  __syncthreads();
  if (r < 1 || r > sampled) return false;
  uint32_t unused;  // a lower bound of the r-th sampled key is enough: two digits
  *t = rank_key(
      static_cast<int>(sampled), r,
      [&](int j, uint32_t* key) {
        *key = samples[j];
        return true;
      },
      hist, sh, &unused, 2);
  return true;
}

}  // namespace dsa_fused

extern "C" __global__ void __launch_bounds__(dsa_fused::kSplitThreads)
    dsa_fused_top_k_split_filter(const float* scores, int64_t row_stride, const int32_t* positions, int n, int k,
                                 int32_t* out, int cap, uint32_t* cand, uint32_t* counts) {
  using namespace dsa_fused;
  __shared__ uint32_t hist[kHistBins];
  __shared__ uint32_t samples[kFilterSamples];
  __shared__ TopKShared sh;
  (void)out;
  const int64_t r = blockIdx.y;
  const int c = blockIdx.x, tid = threadIdx.x, T = blockDim.x;
  int len = n;
  if (positions != nullptr) len = min(n, max(0, positions[r] + 1));
  if (!split_usable(len, k, n, cap)) return;
  const float* row = scores + r * row_stride;
  uint32_t t = 0;
  if (!sample_threshold(row, len, k, samples, hist, sh, &t)) {
    if (tid == 0) counts[r * kSplitCtas + c] = kSplitNoThreshold;
    return;
  }
  const int slice = split_slice(n);
  uint32_t* mine_out = cand + (r * kSplitCtas + c) * static_cast<int64_t>(slice);
  const int begin = c * slice, end = min(len, begin + slice);
  const bool aligned = (reinterpret_cast<uintptr_t>(row) & 15u) == 0;
  uint32_t running = 0;
  for (int base = begin; base < end; base += 4 * T) {  // uniform trip count (block scans)
    const int e0 = base + 4 * tid;
    float v[4];
    load4(row, end, e0, aligned, v);
    uint32_t mine = 0;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      uint32_t key;
      if (score_key(v[j], &key) && key >= t) mine |= 1u << j;
    }
    uint32_t total;
    uint32_t at = running + block_exclusive_scan(__popc(mine), sh, &total);
    while (mine != 0) {
      const int b = __ffs(mine) - 1;
      mine &= mine - 1;
      mine_out[at++] = static_cast<uint32_t>(e0 + b);
    }
    running += total;
  }
  if (tid == 0) counts[r * kSplitCtas + c] = running;
}

extern "C" __global__ void __launch_bounds__(dsa_fused::kTopKThreads)
    dsa_fused_top_k_split_select(const float* scores, int64_t row_stride, const int32_t* positions, int n, int k,
                                 int32_t* out, int cap, const uint32_t* cand, const uint32_t* counts) {
  using namespace dsa_fused;
  extern __shared__ uint32_t smem[];
  __shared__ TopKShared sh;
  __shared__ uint32_t offsets[kSplitCtas + 1];
  __shared__ int bad;
  const int64_t r = blockIdx.x;
  const int tid = threadIdx.x, T = blockDim.x, lane = tid & 31;
  int len = n;
  if (positions != nullptr) len = min(n, max(0, positions[r] + 1));
  const float* row = scores + r * row_stride;
  int32_t* o = out + r * static_cast<int64_t>(k);
  const int C = split_capacity(n, cap);
  bool split = split_usable(len, k, n, cap);
  uint32_t total = 0;
  if (split) {
    static_assert(kSplitCtas == 64, "warp 0 scans two counts per lane");
    if (tid < 32) {
      const uint32_t a = counts[r * kSplitCtas + 2 * lane], b = counts[r * kSplitCtas + 2 * lane + 1];
      const bool none = a == kSplitNoThreshold || b == kSplitNoThreshold;
      const uint32_t pair = none ? 0u : a + b;
      uint32_t inclusive = pair;
#pragma unroll
      for (int d = 1; d < 32; d <<= 1) {
        const uint32_t y = __shfl_up_sync(0xffffffffu, inclusive, d);
        if (lane >= d) inclusive += y;
      }
      offsets[2 * lane] = inclusive - pair;
      offsets[2 * lane + 1] = inclusive - pair + (none ? 0u : a);
      if (lane == 31) offsets[kSplitCtas] = inclusive;
      const bool any = __any_sync(0xffffffffu, none);
      if (lane == 0) bad = any ? 1 : 0;
    }
    __syncthreads();
    total = offsets[kSplitCtas];
    split = bad == 0 && total >= static_cast<uint32_t>(k) && total <= static_cast<uint32_t>(C);
    __syncthreads();
  }
  if (!split) {
    filter_top_k_row(row, len, k, o, smem, cap, sh);
    return;
  }
  uint32_t* hist = smem;
  uint32_t* list = smem + kHistBins;
  uint32_t* keys = list + C;
  const int slice = split_slice(n);
  const int count = static_cast<int>(total);
  for (int p = tid; p < count; p += T) {
    int lo = 0, hi = kSplitCtas - 1;  // the last CTA whose offset is ≤ p holds entry p
    while (lo < hi) {
      const int mid = (lo + hi + 1) >> 1;
      if (offsets[mid] <= static_cast<uint32_t>(p)) lo = mid;
      else hi = mid - 1;
    }
    const uint32_t i = cand[(r * kSplitCtas + lo) * static_cast<int64_t>(slice) + (p - offsets[lo])];
    list[p] = i;
    keys[p] = canonical_key(row[i]);
  }
  __syncthreads();
  // exact select: K = k-th largest key; the `need` lowest-index ties at K
  uint32_t last_tie;
  const uint32_t K = select_kth_key(count, k, list, [&](int j) { return keys[j]; }, hist, sh, &last_tie);
  // ordered compaction of the (ascending) list
  const int per = (count + T - 1) / T, j0 = tid * per, j1 = min(count, j0 + per);
  uint32_t wins = 0;
  for (int j = j0; j < j1; j++) wins += (keys[j] > K || (keys[j] == K && list[j] <= last_tie)) ? 1u : 0u;
  uint32_t chosen;
  uint32_t at = block_exclusive_scan(wins, sh, &chosen);
  for (int j = j0; j < j1; j++)
    if (keys[j] > K || (keys[j] == K && list[j] <= last_tie)) {
      if (at < static_cast<uint32_t>(k)) o[at] = static_cast<int32_t>(list[j]);
      at++;
    }
  for (uint32_t j = chosen + tid; j < static_cast<uint32_t>(k); j += T) o[j] = -1;
}
