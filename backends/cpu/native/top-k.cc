// topK: the k largest entries of each row, ties to the lower index, -inf and NaN never selected;
// results in ascending index order, padded with -1 (value -inf). A selection (nth_element with a
// total order: value desc, then index asc) followed by a sort of the k winners by index; long f32
// rows (the indexer's scores) use a radix select instead: linear time, no sort of the row.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include "convert.h"
#include "kernels.h"
#include "segments.h"

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

// Order-preserving key of a float (larger value, larger key; -0 and +0 equal).
inline uint32_t order_key(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  if (bits == 0x80000000u) bits = 0;
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

// The key of an entry that may be chosen, 0 for -inf and NaN (valid keys are at least 0x00800000:
// bucket 0 of the histogram holds exactly the invalid entries).
inline uint32_t valid_key(float value) {
  const float negative_infinity = -std::numeric_limits<float>::infinity();
  return value > negative_infinity ? order_key(value) : 0u;
}

// The same result as select() for a float row: the keys of the row are computed once; histogram their
// top 11 bits (four interleaved histograms, so runs of equal buckets do not wait on each other), find
// the bucket holding the k-th largest, take the exact k-th largest key among that bucket's entries,
// then one pass in index order keeps every entry above it and the first ones equal to it (ties to the
// lower index).
void radix_select(const float* row, int64_t n, int64_t k, int32_t* out, std::vector<int32_t>& scratch) {
  constexpr int kBits = 11, kBuckets = 1 << kBits;
  thread_local std::vector<uint32_t> key_buffer, histograms;
  std::vector<uint32_t>& key_of = key_buffer;
  key_of.resize(static_cast<size_t>(n));
  histograms.assign(4 * kBuckets, 0);
  uint32_t* h = histograms.data();
  uint32_t* keys_end = key_of.data() + n;
  for (int64_t t = 0; t < n; t++) key_of[t] = valid_key(row[t]);
  const uint32_t* p = key_of.data();
  for (; keys_end - p >= 4; p += 4) {
    h[p[0] >> (32 - kBits)]++;
    h[kBuckets + (p[1] >> (32 - kBits))]++;
    h[2 * kBuckets + (p[2] >> (32 - kBits))]++;
    h[3 * kBuckets + (p[3] >> (32 - kBits))]++;
  }
  for (; p < keys_end; p++) h[*p >> (32 - kBits)]++;
  for (int b = 0; b < kBuckets; b++) h[b] += h[kBuckets + b] + h[2 * kBuckets + b] + h[3 * kBuckets + b];
  const int64_t valid = n - static_cast<int64_t>(h[0]);
  if (valid <= k) {
    int64_t j = 0;
    for (int64_t t = 0; t < n; t++)
      if (key_of[t] != 0) out[j++] = static_cast<int32_t>(t);
    for (; j < k; j++) out[j] = -1;
    return;
  }
  int64_t above = 0;
  uint32_t bucket = kBuckets - 1;
  while (above + static_cast<int64_t>(h[bucket]) < k) above += h[bucket--];
  // Keys of the bucket's entries; the (k - above)-th largest of them is the threshold.
  std::vector<uint32_t> keys;
  keys.reserve(h[bucket]);
  for (int64_t t = 0; t < n; t++)
    if ((key_of[t] >> (32 - kBits)) == bucket) keys.push_back(key_of[t]);
  const int64_t need = k - above;
  std::nth_element(keys.begin(), keys.begin() + (need - 1), keys.end(), std::greater<uint32_t>());
  const uint32_t threshold = keys[static_cast<size_t>(need - 1)];
  int64_t greater = 0;
  for (uint32_t key : keys) greater += key > threshold;
  int64_t equal = need - greater;  // entries equal to the threshold to keep, lowest indices first
  int64_t j = 0;
  for (int64_t t = 0; t < n && j < k; t++) {
    const uint32_t key = key_of[t];
    if (key > threshold || (key == threshold && equal-- > 0)) out[j++] = static_cast<int32_t>(t);
  }
  (void)scratch;
}

}  // namespace

void select_top_k(const float* row, int64_t n, int64_t k, int32_t* out, std::vector<int32_t>& scratch_indices) {
  if (n >= 4096 && k >= 1)
    radix_select(row, n, k, out, scratch_indices);
  else
    select(row, n, k, out, scratch_indices);
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
