// topK: the k largest entries of each row, ties to the lower index, -inf and NaN never selected;
// results in ascending index order, padded with -1 (value -inf). A selection (nth_element with a
// total order: value desc, then index asc) followed by a sort of the k winners by index; f32 rows
// (the indexer's scores) use a threshold select instead: one pass, linear time, no sort of the row, and a
// second pass that emits the winners in index order. select_top_k_row (top-k-row.h) picks the AVX-512 count
// select for the indexer's rows where it applies.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "convert.h"
#include "kernels.h"
#include "segments.h"
#include "top-k-row.h"

namespace dsa {

namespace {

template <class T>
int64_t select(const T* row, int64_t n, int64_t k, int32_t* out, std::vector<int32_t>& candidates) {
  candidates.clear();
  const T negative_infinity = -std::numeric_limits<T>::infinity();
  for (int64_t i = 0; i < n; i++)
    if (row[i] > negative_infinity) candidates.push_back(static_cast<int32_t>(i));  // false for NaN
  int64_t count = static_cast<int64_t>(candidates.size());
  if (count > k) {
    auto better = [row](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); };
    std::nth_element(candidates.begin(), candidates.begin() + (k - 1), candidates.end(), better);
    std::sort(candidates.begin(), candidates.begin() + k);
    count = k;
  }
  for (int64_t j = 0; j < count; j++) out[j] = candidates[j];
  for (int64_t j = count; j < k; j++) out[j] = -1;
  return count;
}

}  // namespace

namespace {

// Bit i set where p[i] > t (kGreater) or p[i] == t, for i in [0, 16) (SSE compares where there is SSE).
template <bool kGreater>
inline uint32_t compare16(const float* p, float t) {
  uint32_t bits = 0;
#if defined(__SSE2__)
  const __m128 tv = _mm_set1_ps(t);
  for (int q = 0; q < 4; q++) {
    const __m128 v = _mm_loadu_ps(p + 4 * q);
    bits |= static_cast<uint32_t>(_mm_movemask_ps(kGreater ? _mm_cmpgt_ps(v, tv) : _mm_cmpeq_ps(v, tv))) << (4 * q);
  }
#else
  for (int i = 0; i < 16; i++) bits |= static_cast<uint32_t>(kGreater ? p[i] > t : p[i] == t) << i;
#endif
  return bits;
}
inline uint32_t above(const float* p, float t) { return compare16<true>(p, t); }
inline uint32_t equal(const float* p, float t) { return compare16<false>(p, t); }

// A candidate as one integer, larger for a better entry: the order-preserving bits of the value (-0 as
// +0) above the complement of the index (ties to the lower index).
inline uint64_t candidate(float value, int64_t index) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  if (bits == 0x80000000u) bits = 0;
  bits = (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
  return (static_cast<uint64_t>(bits) << 32) | static_cast<uint32_t>(~static_cast<uint32_t>(index));
}

}  // namespace

// By one pass over the row: sorting the winners by index cost more.
void emit_in_order(const float* row, int64_t n, int64_t k, float bound, int64_t ties, int32_t* out) {
  int64_t j = 0;
  for (int64_t t0 = 0; t0 < n; t0 += 16) {
    uint32_t bits = 0, eq = 0;
    if (n - t0 >= 16) {
      bits = above(row + t0, bound);
      if (ties > 0) eq = equal(row + t0, bound);
    } else {
      for (int64_t t = t0; t < n; t++) {
        bits |= static_cast<uint32_t>(row[t] > bound) << (t - t0);
        eq |= static_cast<uint32_t>(ties > 0 && row[t] == bound) << (t - t0);
      }
    }
    for (; eq != 0 && ties > 0; eq &= eq - 1, ties--) bits |= eq & (~eq + 1);  // the lowest tied lanes first
    for (; bits != 0; bits &= bits - 1) out[j++] = static_cast<int32_t>(t0 + __builtin_ctz(bits));
  }
  for (; j < k; j++) out[j] = -1;
}

namespace {

// The same result as select() for a float row, in one pass over it: an entry is skipped unless it is
// larger than the threshold (the k-th best of the entries seen so far; -inf at first, so -inf and NaN
// are always skipped), else it becomes a candidate. When the candidates fill their buffer, their k best
// stay and the threshold becomes the k-th of them: a later entry equal to it has a higher index and
// loses. A block of 16 entries none of which passes costs a few vector compares. Long rows start from
// a threshold taken from a strided sample (about 3k entries of the row expected at or above it), and
// start over from -inf in the rare case that fewer than k entries reach it.
void threshold_select(const float* row, int64_t n, int64_t k, int32_t* out) {
  const int64_t capacity = 2 * k + 64;
  thread_local std::vector<uint64_t> buffer_storage;
  std::vector<uint64_t>& buffer = buffer_storage;
  buffer.resize(static_cast<size_t>(capacity + 16));
  uint64_t* kept = buffer.data();
  const float negative_infinity = -std::numeric_limits<float>::infinity();
  float start = negative_infinity;
  constexpr int64_t kSample = 1024;
  if (n >= 8192 && n >= 16 * k) {
    float sample[kSample];
    int64_t m = 0;
    const int64_t stride = n / kSample;
    for (int64_t i = 0; i < kSample; i++) {
      const float v = row[i * stride];
      if (v > negative_infinity) sample[m++] = v;
    }
    const int64_t rank = (3 * k * kSample + n - 1) / n;  // 1-based, in the sample
    if (m > rank) {
      std::nth_element(sample, sample + (rank - 1), sample + m, std::greater<float>());
      start = std::nextafter(sample[rank - 1], negative_infinity);  // > start: at or above the sample's value
    }
  }
  int64_t count = 0;
  for (;;) {
    float threshold = start;
    count = 0;
    for (int64_t t0 = 0; t0 < n; t0 += 16) {
      uint32_t bits;
      if (n - t0 >= 16) {
        bits = above(row + t0, threshold);
      } else {
        bits = 0;
        for (int64_t t = t0; t < n; t++) bits |= static_cast<uint32_t>(row[t] > threshold) << (t - t0);
      }
      for (; bits != 0; bits &= bits - 1) {
        const int64_t t = t0 + __builtin_ctz(bits);
        kept[count++] = candidate(row[t], t);
      }
      if (count >= capacity) {
        std::nth_element(kept, kept + (k - 1), kept + count, std::greater<uint64_t>());
        count = k;
        threshold = row[~static_cast<uint32_t>(kept[k - 1])];
      }
    }
    if (count >= k || start == negative_infinity) break;
    start = negative_infinity;  // the sample's threshold let fewer than k entries through
  }
  // The k best, then their count at the k-th best value (the lowest indices among that value's entries win).
  if (count < k) return emit_in_order(row, n, k, negative_infinity, 0, out);
  std::nth_element(kept, kept + (k - 1), kept + count, std::greater<uint64_t>());
  const float bound = row[~static_cast<uint32_t>(kept[k - 1])];
  int64_t ties = 0;
  for (int64_t j = 0; j < k; j++) ties += row[~static_cast<uint32_t>(kept[j])] == bound;
  emit_in_order(row, n, k, bound, ties, out);
}

}  // namespace

void select_top_k(const float* row, int64_t n, int64_t k, int32_t* out, std::vector<int32_t>& scratch_indices) {
  if (k >= 1)
    threshold_select(row, n, k, out);
  else
    select(row, n, k, out, scratch_indices);
}

void select_top_k_row(int isa, const float* row, int64_t n, int64_t k, int32_t* out, std::vector<int32_t>& scratch) {
  if (isa >= kAvx512 && k >= 1 && n <= kCountSelectMaxN)
    select_top_k_avx512(row, n, k, out);
  else
    select_top_k(row, n, k, out, scratch);
}

void top_k(const Context& ctx, const Tensor& indices, const Tensor* values, const Tensor& x, int64_t k) {
  expect_rank("x", x, 2);
  expect_dtype("indices", indices, DType::i32);
  const int64_t rows = x.shape[0], n = x.shape[1];
  if (k < 1) fail("k = " + std::to_string(k) + " must be a positive integer");
  expect_shape("indices", indices, {rows, k});
  if (values != nullptr) expect_shape("values", *values, {rows, k});
  parallel_for(ctx, rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, n)), [&](int64_t b, int64_t e) {
    thread_local std::vector<int32_t> candidates;
    double* v = scratch<double, 0>(n);
    int32_t* chosen = scratch<int32_t, 0>(k);
    for (int64_t r = b; r < e; r++) {
      load_row_f64(v, x.at(r * x.strides[0]), x.dtype, n, x.strides[1]);
      select(v, n, k, chosen, candidates);
      for (int64_t j = 0; j < k; j++) {
        indices.ptr<int32_t>()[r * indices.strides[0] + j * indices.strides[1]] = chosen[j];
        if (values != nullptr)
          store_f64(values->at(r * values->strides[0] + j * values->strides[1]), values->dtype,
                    chosen[j] >= 0 ? v[chosen[j]] : -std::numeric_limits<double>::infinity());
      }
    }
  });
}

}  // namespace dsa
