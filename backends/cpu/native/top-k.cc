// topK: the k largest entries of each row, ties to the lower index, -inf and NaN never selected;
// results in ascending index order, padded with -1 (value -inf). A selection (nth_element with a
// total order: value desc, then index asc) followed by a sort of the k winners by index.
#include <algorithm>
#include <cmath>
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

void select_top_k(const float* row, int64_t n, int64_t k, int32_t* out, std::vector<int32_t>& scratch_indices) {
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
