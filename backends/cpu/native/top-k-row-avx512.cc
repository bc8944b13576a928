// select_top_k_avx512 (see top-k-row.h): the indexer's top-k of rows up to kCountSelectMaxN by counting, 16
// keys per compare. The threshold select took about 7 us for 256 of 1024 (small at depth 1024: 60% of
// indexerTopK at batch 32), most of it in nth_element over its candidates. Checked against a stable-sort
// reference by backends/cpu/dev/top-k-check.cc.
// Compiled for the avx512 target through the pragma below; callers check the CPU first.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <cstring>
#include <limits>
#include <vector>

#include "top-k-row.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")

#include "lane-masks-avx512.h"

namespace dsa {
namespace {

// How many of keys[0, len) (len a multiple of 16) are at or above c.
inline int64_t count_at_or_above(const uint32_t* keys, int64_t len, uint32_t c) {
  const __m512i cv = _mm512_set1_epi32(static_cast<int>(c));
  int64_t count = 0;
  for (int64_t i = 0; i < len; i += 16)
    count += __builtin_popcount(_mm512_cmpge_epu32_mask(_mm512_loadu_si512(keys + i), cv));
  return count;
}

// The float whose key is `key` (the inverse of the mapping in select_top_k_avx512, for keys of valid entries).
inline float value_of(uint32_t key) {
  const uint32_t bits = (key & 0x80000000u) ? key ^ 0x80000000u : ~key;
  float v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

}  // namespace

void select_top_k_avx512(const float* row, int64_t n, int64_t k, int32_t* out) {
  const int64_t len0 = (n + 15) / 16 * 16;
  thread_local std::vector<uint32_t> storage;
  if (storage.size() < static_cast<size_t>(len0)) storage.resize(static_cast<size_t>(len0));
  uint32_t* keys = storage.data();  // [len0]
  // Keys: larger for a larger value, -0 as +0; -inf, NaN and the lanes past n get 0, below every valid key
  // (those are above ~bits(-inf) = 0x007fffff), so a candidate (never 0) does not count them.
  const __m512 negative_infinity = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  int64_t valid = 0;
  for (int64_t i = 0; i < len0; i += 16) {
    const __mmask16 in = first16(n - i);
    __m512i b = _mm512_castps_si512(_mm512_maskz_loadu_ps(in, row + i));
    const __mmask16 ok = _mm512_mask_cmp_ps_mask(in, _mm512_castsi512_ps(b), negative_infinity, _CMP_GT_OQ);
    b = _mm512_mask_mov_epi32(b, _mm512_cmpeq_epi32_mask(b, sign), _mm512_setzero_si512());
    const __m512i key = _mm512_xor_si512(b, _mm512_or_si512(_mm512_srai_epi32(b, 31), sign));
    _mm512_storeu_si512(keys + i, _mm512_maskz_mov_epi32(ok, key));
    valid += __builtin_popcount(ok);
  }
  if (valid <= k) return emit_in_order(row, n, k, -std::numeric_limits<float>::infinity(), 0, out);
  // t: the largest key with at least k keys at or above it (the k-th largest). The list keys[0, len) holds the
  // keys whose bits above the current round's equal t's; `above` counts those whose prefix is larger.
  uint32_t t = 0;
  int64_t above = 0, len = len0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int bit = shift + 7; bit >= shift; bit--) {
      const uint32_t c = t | (1u << bit);
      if (above + count_at_or_above(keys, len, c) >= k) t = c;
    }
    // Keep the keys with t's prefix (in place: a full vector store at the write position never passes the
    // vector just read); count those above it.
    const __m512i prefix = _mm512_set1_epi32(static_cast<int>(t >> shift));
    int64_t kept = 0;
    for (int64_t i = 0; i < len; i += 16) {
      const __m512i v = _mm512_loadu_si512(keys + i);
      const __m512i p = _mm512_srli_epi32(v, static_cast<unsigned>(shift));
      above += __builtin_popcount(_mm512_cmpgt_epu32_mask(p, prefix));
      const __mmask16 same = _mm512_cmpeq_epi32_mask(p, prefix);
      _mm512_storeu_si512(keys + kept, _mm512_maskz_compress_epi32(same, v));
      kept += __builtin_popcount(same);
    }
    len = (kept + 15) / 16 * 16;
    for (int64_t i = kept; i < len; i++) keys[i] = 0;  // 0 never reaches a candidate
  }
  // Now `above` counts the keys above t: the first k - above entries equal to t complete the k.
  emit_in_order(row, n, k, value_of(t), k - above, out);
}

}  // namespace dsa

#pragma GCC pop_options
