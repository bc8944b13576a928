// Row and column gathers and scatters: gatherRows (embeddings, cache reads), scatterRows (cache
// writes), indexAdd (MoE combine), gatherColumns / scatterColumns (masks, router weights). Indices
// are i32; -1 means "none" (zeros / fill / skipped); anything else out of range is an error,
// reported before anything is written.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "add-scaled-row.h"
#include "convert.h"
#include "kernels.h"
#include "segments.h"

namespace dsa {

namespace {

// dst[i · ds] = src[i · ss] for i < n, converted as the reference's read/write pair does.
void convert_row(uint8_t* dst, DType dt, int64_t ds, const uint8_t* src, DType st, int64_t ss, int64_t n) {
  if (dt == st) {
    int size = dtype_bytes(dt);
    if (ds == 1 && ss == 1) {
      std::memcpy(dst, src, n * size);
    } else {
      for (int64_t i = 0; i < n; i++) std::memcpy(dst + i * ds * size, src + i * ss * size, size);
    }
    return;
  }
  if (st == DType::f32 && ss == 1) {  // f32 rows into any dtype: as store_f64 of each (exact) double
    store_row_f32(dst, dt, ds, reinterpret_cast<const float*>(src), n);
    return;
  }
  if (dt == DType::f32 && ds == 1 && st != DType::f64 && is_float(st)) {
    load_row_f32(reinterpret_cast<float*>(dst), src, st, n, ss);
    return;
  }
  double* row = scratch<double>(n);
  load_row_f64(row, src, st, n, ss);
  store_row_f64(dst, dt, ds, row, n);
}

void zero_row(uint8_t* dst, DType dt, int64_t ds, int64_t n) {
  int size = dtype_bytes(dt);
  if (ds == 1) {
    std::memset(dst, 0, n * size);  // +0 in every dtype
  } else {
    for (int64_t i = 0; i < n; i++) std::memset(dst + i * ds * size, 0, size);
  }
}

// The i32 values of a rank-1 view.
std::vector<int32_t> read_indices(const char* name, const Tensor& indices) {
  expect_dtype(name, indices, DType::i32);
  expect_rank(name, indices, 1);
  std::vector<int32_t> out(static_cast<size_t>(indices.shape[0]));
  const int32_t* p = indices.ptr<int32_t>();
  for (int64_t i = 0; i < indices.shape[0]; i++) out[i] = p[i * indices.strides[0]];
  return out;
}

void check_row_indices(const std::vector<int32_t>& idx, int64_t limit) {
  for (size_t i = 0; i < idx.size(); i++) {
    int32_t r = idx[i];
    if (r != -1 && (r < 0 || r >= limit))
      fail("index " + std::to_string(r) + " at position " + std::to_string(i) + " is outside [0, " +
           std::to_string(limit) + ")");
  }
}

// indices [R, J] i32 as a dense row-major copy, checked against [0, limit) (-1 allowed).
std::vector<int32_t> read_column_indices(const Tensor& indices, int64_t rows, int64_t limit) {
  expect_dtype("indices", indices, DType::i32);
  int64_t j = indices.rank == 2 ? indices.shape[1] : -1;
  expect_shape("indices", indices, {rows, j});
  std::vector<int32_t> out(static_cast<size_t>(rows * j));
  const int32_t* p = indices.ptr<int32_t>();
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < j; c++) {
      int32_t v = p[r * indices.strides[0] + c * indices.strides[1]];
      if (v != -1 && (v < 0 || v >= limit))
        fail("index " + std::to_string(v) + " in row " + std::to_string(r) + " is outside [0, " +
             std::to_string(limit) + ")");
      out[r * j + c] = v;
    }
  return out;
}

// The indices of a row gather or scatter between `table` [V, W] and `rows` [N, W], read and checked
// (each -1 or in [0, V)).
std::vector<int32_t> table_row_indices(const Tensor& table, const char* rows_name, const Tensor& rows,
                                       const Tensor& indices) {
  expect_rank("table", table, 2);
  std::vector<int32_t> idx = read_indices("indices", indices);
  expect_shape(rows_name, rows, {static_cast<int64_t>(idx.size()), table.shape[1]});
  check_row_indices(idx, table.shape[0]);
  return idx;
}

}  // namespace

void gather_rows(const Context& ctx, const Tensor& out, const Tensor& table, const Tensor& indices) {
  std::vector<int32_t> idx = table_row_indices(table, "out", out, indices);
  const int64_t width = table.shape[1], n = static_cast<int64_t>(idx.size());
  parallel_for(ctx, n, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, width)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      uint8_t* dst = out.at(i * out.strides[0]);
      if (idx[i] == -1) {
        zero_row(dst, out.dtype, out.strides[1], width);
        continue;
      }
      convert_row(dst, out.dtype, out.strides[1], table.at(idx[i] * table.strides[0]), table.dtype,
                  table.strides[1], width);
    }
  });
}

void scatter_rows(const Context& ctx, const Tensor& table, const Tensor& rows, const Tensor& indices) {
  std::vector<int32_t> idx = table_row_indices(table, "rows", rows, indices);
  const int64_t width = table.shape[1], n = static_cast<int64_t>(idx.size());
  // Distinct targets can be written in parallel; repeated ones keep the reference's last-wins order.
  std::vector<int32_t> sorted(idx);
  std::sort(sorted.begin(), sorted.end());
  bool distinct = true;
  for (size_t i = 1; i < sorted.size(); i++)
    if (sorted[i] != -1 && sorted[i] == sorted[i - 1]) distinct = false;
  Context run = ctx;
  if (!distinct) run.threads = 1;
  // A decode batch's rows land in cold cache lines (writes wait on memory): 32 latent rows split over the threads.
  parallel_for(run, n, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, width)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      if (idx[i] == -1) continue;
      convert_row(table.at(idx[i] * table.strides[0]), table.dtype, table.strides[1], rows.at(i * rows.strides[0]),
                  rows.dtype, rows.strides[1], width);
    }
  });
}

void index_add(const Context& ctx, const Tensor& out, const Tensor& rows, const Tensor& indices,
               const Tensor* weights) {
  expect_rank("out", out, 2);
  std::vector<int32_t> idx = read_indices("indices", indices);
  const int64_t count = out.shape[0], width = out.shape[1], n = static_cast<int64_t>(idx.size());
  expect_shape("rows", rows, {n, width});
  std::vector<double> w(static_cast<size_t>(n), 1.0);
  if (weights != nullptr) {
    expect_shape("weights", *weights, {n});
    for (int64_t i = 0; i < n; i++) w[i] = load_f64(weights->at(i * weights->strides[0]), weights->dtype);
  }
  check_row_indices(idx, count);
  // f32 rows of unit stride into f32: add_scaled_row, the same arithmetic as the loop below.
  const bool f32_rows = out.dtype == DType::f32 && rows.dtype == DType::f32 && out.strides[1] == 1 && rows.strides[1] == 1;
  // Rows in order (repeats accumulate as the reference does), columns in parallel.
  parallel_for(ctx, width, 2048, [&](int64_t c0, int64_t c1) {
    int64_t len = c1 - c0;
    double* acc = scratch<double, 0>(len);
    double* val = scratch<double, 1>(len);
    for (int64_t i = 0; i < n; i++) {
      if (idx[i] == -1) continue;
      uint8_t* dst = out.at(idx[i] * out.strides[0] + c0 * out.strides[1]);
      if (f32_rows) {
        add_scaled_row(ctx.isa, reinterpret_cast<float*>(dst), reinterpret_cast<const float*>(rows.at(i * rows.strides[0] + c0)),
                       w[i], len);
        continue;
      }
      load_row_f64(acc, dst, out.dtype, len, out.strides[1]);
      load_row_f64(val, rows.at(i * rows.strides[0] + c0 * rows.strides[1]), rows.dtype, len, rows.strides[1]);
      for (int64_t c = 0; c < len; c++) acc[c] += w[i] * val[c];
      store_row_f64(dst, out.dtype, out.strides[1], acc, len);
    }
  });
}

void gather_columns(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& indices, double fill) {
  expect_rank("x", x, 2);
  const int64_t rows = x.shape[0], n = x.shape[1];
  std::vector<int32_t> idx = read_column_indices(indices, rows, n);
  const int64_t j = indices.shape[1];
  expect_shape("out", out, {rows, j});
  parallel_for(ctx, rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, j)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++)
      for (int64_t c = 0; c < j; c++) {
        int32_t col = idx[r * j + c];
        double v = col == -1 ? fill : load_f64(x.at(r * x.strides[0] + col * x.strides[1]), x.dtype);
        store_f64(out.at(r * out.strides[0] + c * out.strides[1]), out.dtype, v);
      }
  });
}

void scatter_columns(const Context& ctx, const Tensor& out, const Tensor& indices, const Tensor* values,
                     double value) {
  expect_rank("out", out, 2);
  const int64_t rows = out.shape[0], n = out.shape[1];
  std::vector<int32_t> idx = read_column_indices(indices, rows, n);
  const int64_t j = indices.shape[1];
  if (values != nullptr) expect_shape("values", *values, {rows, j});
  parallel_for(ctx, rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, j)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++)
      for (int64_t c = 0; c < j; c++) {
        int32_t col = idx[r * j + c];
        if (col == -1) continue;
        double v =
            values != nullptr ? load_f64(values->at(r * values->strides[0] + c * values->strides[1]), values->dtype)
                              : value;
        store_f64(out.at(r * out.strides[0] + col * out.strides[1]), out.dtype, v);
      }
  });
}

}  // namespace dsa
