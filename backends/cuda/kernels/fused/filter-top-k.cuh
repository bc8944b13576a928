// Top-k of one row (v2): a sampled threshold filter in front of an exact radix select, one CTA per row,
// for long rows (n ≥ kFilterMinRow); anything the filter cannot settle falls back to radix_top_k_row
// (v1, radix-top-k.cuh) on the same row, so the result is always exactly the topK contract: the k
// largest (ties to the lower index), ascending index order, -inf/NaN never chosen, -1 padding.
//
//   1. sample     kFilterSamples evenly spaced entries; t = the key of rank r ≈ 1.5·k·S/n among them
//   2. filter     one streaming pass over the row: indices with key ≥ t (and valid) → smem list
//                 (warp-aggregated appends). If the list has < k entries or overflowed: fall back.
//                 Otherwise every one of the k best has key ≥ t, so they are all in the list.
//   3. select     exact k-th largest key K of the list (11/11/10-bit digit histograms over the list);
//                 `need` = k − #(key > K) ties are the `need` lowest indices with key == K (a second
//                 rank select on ~index among them).
//   4. compact    winners → bitmap → popcount block scan → ascending indices (as v1).
// The row is read ~once (v1 reads it at least twice, with a match_any per element in pass A).
// Shared memory: the same dynamic layout and size as v1 ([hist | bitmap | cap words]).
#pragma once
#include "radix-top-k.cuh"

namespace dsa_fused {

constexpr int kFilterSamples = 4096;
constexpr int kFilterMinRow = 16384;

// The r-th largest key (1-based) among { key_of(j) : j < count, valid }, exactly; *above = how many
// of them are strictly larger, *equal (when given) how many equal it. With digits < 3 only the top
// 11 (1 digit) or 22 (2 digits) bits are resolved: the result is that prefix with the low bits zero, a
// lower bound of the r-th largest key (*above and *equal then count keys above / inside the prefix).
// Requires 1 ≤ r ≤ the number of valid keys. All threads must call it.
template <class KeyOf>
__device__ uint32_t rank_key(int count, uint32_t r, KeyOf key_of, uint32_t* hist, TopKShared& sh, uint32_t* above,
                             int digits = 3, uint32_t* equal = nullptr) {
  const int tid = threadIdx.x, T = blockDim.x;
  uint32_t prefix = 0, mask = 0, kk = r;
  const int shifts[3] = {21, 10, 0}, widths[3] = {11, 11, 10};
  for (int d = 0; d < digits; d++) {
    const int shift = shifts[d], bins = 1 << widths[d];
    for (int i = tid; i < bins; i += T) hist[i] = 0;
    __syncthreads();
    for (int j = tid; j < count; j += T) {
      uint32_t key;
      if (key_of(j, &key) && (key & mask) == prefix) atomicAdd(&hist[(key >> shift) & (bins - 1)], 1u);
    }
    __syncthreads();
    find_bin(hist, bins, kk, sh);
    const uint32_t bin = sh.bin;
    if (equal != nullptr && d == digits - 1) *equal = hist[bin];
    kk -= sh.above;
    prefix |= bin << shift;
    mask |= static_cast<uint32_t>(bins - 1) << shift;
    __syncthreads();  // everyone has read sh before the next find_bin / hist reuse
  }
  *above = r - kk;
  return prefix;
}

// The exact select over `count` listed entries (index list[j], key key_at(j)): returns K, the k-th largest
// key (1 ≤ k ≤ count), and sets *last_tie so that exactly k entries win: key > K, or key == K and
// index ≤ *last_tie (the `need` lowest-index ties at K). All threads must call it.
template <class KeyAt>
__device__ __forceinline__ uint32_t select_kth_key(int count, int k, const uint32_t* list, KeyAt key_at,
                                                   uint32_t* hist, TopKShared& sh, uint32_t* last_tie) {
  uint32_t above, ties;
  const uint32_t K = rank_key(
      count, static_cast<uint32_t>(k),
      [&](int j, uint32_t* key) {
        *key = key_at(j);
        return true;
      },
      hist, sh, &above, 3, &ties);
  const uint32_t need = static_cast<uint32_t>(k) - above;  // ≥ 1 ties at K to take
  // the need-th smallest index among ties = the need-th largest ~index; all of them when need == ties
  *last_tie = 0xffffffffu;
  if (need < ties) {
    uint32_t unused;
    *last_tie = ~rank_key(
        count, need,
        [&](int j, uint32_t* key) {
          *key = ~list[j];
          return key_at(j) == K;
        },
        hist, sh, &unused);
  }
  return K;
}

// Top-k of row[0, n) into out (smem/cap as radix_top_k_row).
__device__ inline void filter_top_k_row(const float* __restrict__ row, int n, int k, int32_t* __restrict__ out,
                                        uint32_t* smem, int cap, TopKShared& sh) {
  const int tid = threadIdx.x, T = blockDim.x, lane = tid & 31;
  uint32_t* hist = smem;
  uint32_t* bitmap = smem + kHistBins;
  const int words = (n + 31) / 32;
  uint32_t* list = bitmap + words;  // cap words
  // The filter keeps ~1.5·k entries on average: it needs room for ~2.5·k, and the samples must fit.
  const bool usable = n >= kFilterMinRow && k >= 1 && 5 * static_cast<int64_t>(k) <= 2 * static_cast<int64_t>(cap) &&
                      cap >= kFilterSamples && k < n / 4;
  if (!usable) {
    radix_top_k_row(row, n, k, out, smem, cap, sh);
    return;
  }
  // 1. sample: valid keys of S evenly spaced entries → list[0, valid)
  if (tid == 0) sh.candidates = 0;
  __syncthreads();
  for (int s0 = 0; s0 < kFilterSamples; s0 += T) {  // uniform trip count: whole warps ballot
    const int s = s0 + tid;
    uint32_t key = 0;
    const bool valid = s < kFilterSamples && score_key(__ldg(row + static_cast<int64_t>(s) * n / kFilterSamples), &key);
    const uint32_t ballot = __ballot_sync(0xffffffffu, valid);
    uint32_t base = 0;
    if (lane == 0 && ballot != 0) base = atomicAdd(&sh.candidates, __popc(ballot));
    base = __shfl_sync(0xffffffffu, base, 0);
    if (valid) list[base + __popc(ballot & ((1u << lane) - 1u))] = key;
  }
  __syncthreads();
  const uint32_t sampled = sh.candidates;
  const uint32_t r = static_cast<uint32_t>((3 * static_cast<int64_t>(k) * kFilterSamples + 2 * n - 1) / (2 * n));
  if (r < 1 || r > sampled) {  // too few valid samples to place a threshold (e.g. mostly -inf rows)
    __syncthreads();
    radix_top_k_row(row, n, k, out, smem, cap, sh);
    return;
  }
  // t only has to be at most the r-th sampled key: two digits (the top 22 key bits) are enough.
  uint32_t unused;
  const uint32_t t = rank_key(
      static_cast<int>(sampled), r,
      [&](int j, uint32_t* key) {
        *key = list[j];
        return true;
      },
      hist, sh, &unused, 2);
  // 2. filter: indices with valid key ≥ t
  if (tid == 0) sh.candidates = 0;
  __syncthreads();
  const bool aligned = (reinterpret_cast<uintptr_t>(row) & 15u) == 0;
  constexpr int kLoads = 4;
  const int step = 4 * kLoads * T;
  for (int base = 0; base < n; base += step) {
    float v[kLoads][4];
#pragma unroll
    for (int u = 0; u < kLoads; u++) load4(row, n, base + 4 * T * u + 4 * tid, aligned, v[u]);
    uint32_t mine = 0;  // bit 4u + j: element base + 4T·u + 4·tid + j is a candidate
#pragma unroll
    for (int u = 0; u < kLoads; u++)
#pragma unroll
      for (int j = 0; j < 4; j++) {
        uint32_t key;
        if (score_key(v[u][j], &key) && key >= t) mine |= 1u << (4 * u + j);
      }
    const uint32_t c = __popc(mine);
    uint32_t inclusive = c;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const uint32_t y = __shfl_up_sync(0xffffffffu, inclusive, o);
      if (lane >= o) inclusive += y;
    }
    const uint32_t warp_total = __shfl_sync(0xffffffffu, inclusive, 31);
    uint32_t at = 0;
    if (lane == 31 && warp_total != 0) at = atomicAdd(&sh.candidates, warp_total);
    at = __shfl_sync(0xffffffffu, at, 31) + inclusive - c;
    while (mine != 0) {
      const int b = __ffs(mine) - 1;
      mine &= mine - 1;
      if (at < static_cast<uint32_t>(cap)) list[at] = static_cast<uint32_t>(base + 4 * T * (b >> 2) + 4 * tid + (b & 3));
      at++;
    }
  }
  __syncthreads();
  const uint32_t listed = sh.candidates;
  if (listed < static_cast<uint32_t>(k) || listed > static_cast<uint32_t>(cap)) {
    __syncthreads();
    radix_top_k_row(row, n, k, out, smem, cap, sh);
    return;
  }
  const int count = static_cast<int>(listed);
  // 3. select: K = k-th largest key of the list; ties at K by lowest index
  uint32_t last_tie;
  const uint32_t K = select_kth_key(
      count, k, list, [&](int j) { return canonical_key(row[list[j]]); }, hist, sh, &last_tie);
  // 4. winners → bitmap → ascending indices
  for (int i = tid; i < words; i += T) bitmap[i] = 0;
  __syncthreads();
  for (int j = tid; j < count; j += T) {
    const uint32_t i = list[j];
    const uint32_t key = canonical_key(row[i]);
    if (key > K || (key == K && i <= last_tie)) atomicOr(&bitmap[i >> 5], 1u << (i & 31));
  }
  __syncthreads();
  compact_bitmap(bitmap, words, k, out, sh);
}

}  // namespace dsa_fused
