// rmsNorm, layerNorm and the fused addRmsNorm, over the last dimension, one row per task item.
// Rows are normalized in double as the reference computes (x · inv · w, rounded once): contiguous f32 rows
// with an f32 or bf16 weight through norm-row.h's row kernels, other dtypes and strides through double rows.
#include <cmath>
#include <string>
#include <vector>

#include "convert.h"
#include "kernels.h"
#include "norm-row.h"
#include "segments.h"

namespace dsa {

namespace {

int64_t check_rows(const Tensor& out, const Tensor& x) {
  if (!out.same_shape(x)) fail("out " + out.describe() + " and x " + x.describe() + " differ");
  return x.cols();
}

std::vector<double> read_vector(const char* name, const Tensor& t, int64_t d) {
  expect_shape(name, t, {d});
  std::vector<double> v(static_cast<size_t>(d));
  load_row_f64(v.data(), t.data, t.dtype, d, t.strides[0]);
  return v;
}

// Rows per task: about 4096 elements, so that a decode batch of 8 rows of 1024 splits over two threads (small's
// addRmsNorm at 8 tokens 18-28% faster than with 16384, replayed steps alternating both ways, 2-core Zen 4).
int64_t row_grain(int64_t d) { return std::max<int64_t>(1, 4096 / std::max<int64_t>(1, d)); }

void rms_row(double* v, int64_t d, const std::vector<double>& w, double eps) {
  double sum = 0;
  for (int64_t i = 0; i < d; i++) sum += v[i] * v[i];
  double inv = rms_inv(sum, d, eps);
  for (int64_t i = 0; i < d; i++) v[i] = v[i] * inv * w[i];
}

// Every row of x [.., D] widened to f64, transformed in place by row(v), stored into out's row.
template <class Row>
void normalize_rows(const Context& ctx, const Tensor& out, const Tensor& x, int64_t d, Row row) {
  if (x.numel() == 0) return;
  parallel_for(ctx, x.rows(), row_grain(d), [&](int64_t b, int64_t e) {
    double* v = scratch<double>(d);
    for (int64_t r = b; r < e; r++) {
      load_row_f64(v, x.at(x.row_offset(r)), x.dtype, d, x.col_stride());
      row(v);
      store_row_f64(out.at(out.row_offset(r)), out.dtype, out.col_stride(), v, d);
    }
  });
}

// Whether t's rows are contiguous f32 (the row kernels' layout).
bool f32_rows(const Tensor& t) { return t.dtype == DType::f32 && t.col_stride() == 1; }

// weight as the row kernels take it, where it is contiguous f32 or bf16.
bool row_weight(const Tensor& weight, int64_t d, NormWeight& w) {
  expect_shape("weight", weight, {d});
  if ((weight.dtype != DType::f32 && weight.dtype != DType::bf16) || (d > 1 && weight.strides[0] != 1)) return false;
  w = {weight.data, weight.dtype == DType::bf16};
  return true;
}

}  // namespace

void rms_norm(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& weight, double eps) {
  const int64_t d = check_rows(out, x);
  NormWeight rw;
  if (f32_rows(x) && f32_rows(out) && row_weight(weight, d, rw)) {
    parallel_for(ctx, x.rows(), row_grain(d), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; r++)
        rms_norm_row(ctx.isa, x.ptr<float>() + x.row_offset(r), nullptr, out.ptr<float>() + out.row_offset(r), rw, d,
                     eps);
    });
    return;
  }
  std::vector<double> w = read_vector("weight", weight, d);
  normalize_rows(ctx, out, x, d, [&](double* v) { rms_row(v, d, w, eps); });
}

void layer_norm(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& bias,
                double eps) {
  const int64_t d = check_rows(out, x);
  std::vector<double> w = read_vector("weight", weight, d);
  std::vector<double> bv = read_vector("bias", bias, d);
  normalize_rows(ctx, out, x, d, [&](double* v) {
    double mean = 0;
    for (int64_t i = 0; i < d; i++) mean += v[i];
    mean /= d;
    double variance = 0;
    for (int64_t i = 0; i < d; i++) variance += (v[i] - mean) * (v[i] - mean);
    double inv = rms_inv(variance, d, eps);
    for (int64_t i = 0; i < d; i++) v[i] = (v[i] - mean) * inv * w[i] + bv[i];
  });
}

void add_rms_norm(const Context& ctx, const Tensor& out, const Tensor& residual, const Tensor& x,
                  const Tensor& weight, double eps) {
  const int64_t d = check_rows(out, x);
  if (!residual.same_shape(x)) fail("residual " + residual.describe() + " and x " + x.describe() + " differ");
  NormWeight rw;
  if (f32_rows(x) && f32_rows(out) && f32_rows(residual) && row_weight(weight, d, rw)) {
    parallel_for(ctx, x.rows(), row_grain(d), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; r++)
        rms_norm_row(ctx.isa, x.ptr<float>() + x.row_offset(r), residual.ptr<float>() + residual.row_offset(r),
                     out.ptr<float>() + out.row_offset(r), rw, d, eps);
    });
    return;
  }
  std::vector<double> w = read_vector("weight", weight, d);
  if (x.numel() == 0) return;
  parallel_for(ctx, x.rows(), row_grain(d), [&](int64_t b, int64_t e) {
    double* v = scratch<double, 0>(d);
    double* y = scratch<double, 1>(d);
    for (int64_t r = b; r < e; r++) {
      // residual += x, stored in residual's dtype, then normalized from the stored values.
      uint8_t* res = residual.at(residual.row_offset(r));
      load_row_f64(v, res, residual.dtype, d, residual.col_stride());
      load_row_f64(y, x.at(x.row_offset(r)), x.dtype, d, x.col_stride());
      for (int64_t i = 0; i < d; i++) v[i] += y[i];
      store_row_f64(res, residual.dtype, residual.col_stride(), v, d);
      load_row_f64(v, res, residual.dtype, d, residual.col_stride());
      rms_row(v, d, w, eps);
      store_row_f64(out.at(out.row_offset(r)), out.dtype, out.col_stride(), v, d);
    }
  });
}

}  // namespace dsa
