// Element-wise kernels: fill, cast, copy, unary, binary, and the fused swiglu. Shapes may have any
// strides (0 broadcasts); dimensions are coalesced first so contiguous tensors become one long row.
// General dtypes go through double rows exactly as the reference computes; f32 has direct loops
// (for + - * / and max/min, f32 arithmetic rounds exactly like the reference's double-then-f32).
#include <cmath>
#include <cstring>
#include <string>

#include "convert.h"
#include "kernels.h"
#include "segments.h"
#include "swiglu-row.h"

namespace dsa {

void coalesce(Tensor* const* tensors, int count) {
  Tensor& first = *tensors[0];
  int64_t shape[kMaxRank];
  int64_t strides[4][kMaxRank];
  int rank = 0;
  for (int d = first.rank - 1; d >= 0; d--) {
    if (first.shape[d] == 1) continue;
    if (rank > 0) {
      bool merge = true;
      for (int t = 0; t < count; t++)
        if (tensors[t]->strides[d] != strides[t][rank - 1] * shape[rank - 1]) merge = false;
      if (merge) {
        shape[rank - 1] *= first.shape[d];
        continue;
      }
    }
    shape[rank] = first.shape[d];
    for (int t = 0; t < count; t++) strides[t][rank] = tensors[t]->strides[d];
    rank++;
  }
  if (rank == 0) {
    shape[0] = 1;
    for (int t = 0; t < count; t++) strides[t][0] = 1;
    rank = 1;
  }
  for (int t = 0; t < count; t++) {
    tensors[t]->rank = rank;
    for (int d = 0; d < rank; d++) {
      tensors[t]->shape[d] = shape[rank - 1 - d];
      tensors[t]->strides[d] = strides[t][rank - 1 - d];
    }
  }
}

namespace {

void expect_same_shape(const char* what, const Tensor& out, const Tensor& x) {
  if (!out.same_shape(x)) fail(std::string(what) + " " + out.describe() + " and x " + x.describe() + " differ");
}

double unary_op(UnaryOp op, double x) {
  switch (op) {
    case UnaryOp::silu:
      return silu(x);
    case UnaryOp::relu:
      return x > 0 ? x : 0;
    case UnaryOp::exp:
      return std::exp(x);
    case UnaryOp::sigmoid:
      return 1 / (1 + std::exp(-x));
    case UnaryOp::neg:
      return -x;
    case UnaryOp::sqrt:
      return std::sqrt(x);
    case UnaryOp::reciprocal:
      return 1 / x;
  }
  return x;
}

template <class T>
inline T binary_op(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add:
      return a + b;
    case BinaryOp::sub:
      return a - b;
    case BinaryOp::mul:
      return a * b;
    case BinaryOp::div:
      return a / b;
    case BinaryOp::max:
      return a > b ? a : b;
    case BinaryOp::min:
      return a < b ? a : b;
  }
  return a;
}

template <BinaryOp Op>
void binary_f32_row(float* o, int64_t so, const float* a, int64_t sa, const float* b, int64_t sb, int64_t n) {
  if (so == 1 && sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; i++) o[i] = binary_op(Op, a[i], b[i]);
  } else if (so == 1 && sa == 1 && sb == 0) {
    const float v = b[0];
    for (int64_t i = 0; i < n; i++) o[i] = binary_op(Op, a[i], v);
  } else {
    for (int64_t i = 0; i < n; i++) o[i * so] = binary_op(Op, a[i * sa], b[i * sb]);
  }
}

}  // namespace

void fill(const Context& ctx, const Tensor& out_, double value) {
  if (out_.numel() == 0) return;
  Tensor out = out_;
  Tensor* ts[] = {&out};
  coalesce(ts, 1);
  uint8_t bytes[8];
  store_f64(bytes, out.dtype, value);
  const int size = out.bytes();
  const int64_t cs = out.col_stride();
  for_each_segment(ctx, out.rows(), out.cols(), [&](int64_t r, int64_t c0, int64_t c1) {
    uint8_t* base = out.at(out.row_offset(r));
    if (out.dtype == DType::f32 && cs == 1) {
      float v;
      std::memcpy(&v, bytes, 4);
      float* p = reinterpret_cast<float*>(base);
      for (int64_t c = c0; c < c1; c++) p[c] = v;
      return;
    }
    for (int64_t c = c0; c < c1; c++) std::memcpy(base + c * cs * size, bytes, size);
  });
}

// The walk of an elementwise op with one input of out's shape: coalesced, split into row segments
// across the pool; segment(o, so, s, sx, n) gets each segment's byte pointers and element strides.
template <class Segment>
void one_input_segments(const Context& ctx, Tensor out, Tensor x, Segment segment) {
  if (out.numel() == 0) return;
  Tensor* ts[] = {&out, &x};
  coalesce(ts, 2);
  const int64_t so = out.col_stride(), sx = x.col_stride();
  for_each_segment(ctx, out.rows(), out.cols(), [&](int64_t r, int64_t c0, int64_t c1) {
    segment(out.at(out.row_offset(r) + c0 * so), so, x.at(x.row_offset(r) + c0 * sx), sx, c1 - c0);
  });
}

void cast(const Context& ctx, const Tensor& out, const Tensor& x) {
  expect_same_shape("out", out, x);
  one_input_segments(ctx, out, x, [&](uint8_t* o, int64_t so, const uint8_t* s, int64_t sx, int64_t n) {
    if (out.dtype == x.dtype) {
      int size = out.bytes();
      for (int64_t i = 0; i < n; i++) std::memcpy(o + i * so * size, s + i * sx * size, size);
      return;
    }
    if (out.dtype == DType::f32 && so == 1 && is_float(x.dtype) && x.dtype != DType::f64) {
      load_row_f32(reinterpret_cast<float*>(o), s, x.dtype, n, sx);  // exact widening
      return;
    }
    double* row = scratch<double>(n);
    load_row_f64(row, s, x.dtype, n, sx);
    store_row_f64(o, out.dtype, so, row, n);
  });
}

void copy(const Context& ctx, const Tensor& destination, const Tensor& source) {
  if (destination.dtype != source.dtype || !destination.same_shape(source))
    fail("destination " + destination.describe() + " and source " + source.describe() + " differ");
  const int size = destination.bytes();
  one_input_segments(ctx, destination, source,
                     [size](uint8_t* o, int64_t sd, const uint8_t* i, int64_t ss, int64_t n) {
                       if (sd == 1 && ss == 1) {
                         std::memmove(o, i, n * size);
                         return;
                       }
                       for (int64_t c = 0; c < n; c++) std::memmove(o + c * sd * size, i + c * ss * size, size);
                     });
}

void unary(const Context& ctx, const Tensor& out, const Tensor& x, UnaryOp op) {
  expect_same_shape("out", out, x);
  one_input_segments(ctx, out, x, [&](uint8_t* o, int64_t so, const uint8_t* s, int64_t sx, int64_t n) {
    if (out.dtype == DType::f32 && x.dtype == DType::f32) {
      float* po = reinterpret_cast<float*>(o);
      const float* ps = reinterpret_cast<const float*>(s);
      if (op == UnaryOp::relu) {
        for (int64_t i = 0; i < n; i++) po[i * so] = ps[i * sx] > 0 ? ps[i * sx] : 0.0f;
      } else if (op == UnaryOp::neg) {
        for (int64_t i = 0; i < n; i++) po[i * so] = -ps[i * sx];
      } else {
        for (int64_t i = 0; i < n; i++) po[i * so] = static_cast<float>(unary_op(op, ps[i * sx]));
      }
      return;
    }
    double* row = scratch<double>(n);
    load_row_f64(row, s, x.dtype, n, sx);
    for (int64_t i = 0; i < n; i++) row[i] = unary_op(op, row[i]);
    store_row_f64(o, out.dtype, so, row, n);
  });
}

// The walk of an elementwise op with two inputs of out's shape: coalesced, split into row segments
// across the pool. When all three are f32, `f32_row(o, so, a, sa, b, sb, n)` gets the segment's float
// pointers and strides; otherwise `f64_row(x, y, n)` gets its rows of a and b widened to f64 and leaves
// the result in x, which is stored in out's dtype.
template <class F32Row, class F64Row>
void two_input_rows(const Context& ctx, Tensor out, Tensor a, Tensor b, F32Row f32_row, F64Row f64_row) {
  if (out.numel() == 0) return;
  Tensor* ts[] = {&out, &a, &b};
  coalesce(ts, 3);
  const int64_t so = out.col_stride(), sa = a.col_stride(), sb = b.col_stride();
  const bool f32 = out.dtype == DType::f32 && a.dtype == DType::f32 && b.dtype == DType::f32;
  for_each_segment(ctx, out.rows(), out.cols(), [&](int64_t r, int64_t c0, int64_t c1) {
    int64_t n = c1 - c0;
    uint8_t* o = out.at(out.row_offset(r) + c0 * so);
    const uint8_t* pa = a.at(a.row_offset(r) + c0 * sa);
    const uint8_t* pb = b.at(b.row_offset(r) + c0 * sb);
    if (f32)
      return f32_row(reinterpret_cast<float*>(o), so, reinterpret_cast<const float*>(pa), sa,
                     reinterpret_cast<const float*>(pb), sb, n);
    double* x = scratch<double, 0>(n);
    double* y = scratch<double, 1>(n);
    load_row_f64(x, pa, a.dtype, n, sa);
    load_row_f64(y, pb, b.dtype, n, sb);
    f64_row(x, y, n);
    store_row_f64(o, out.dtype, so, x, n);
  });
}

void binary(const Context& ctx, const Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op) {
  if (!out.same_shape(a) || !out.same_shape(b))
    fail("operands must be broadcast to out's shape: out " + out.describe() + ", a " + a.describe() + ", b " +
         b.describe());
  // binary_f32_row per BinaryOp, in the enum's order.
  using F32Row = void (*)(float*, int64_t, const float*, int64_t, const float*, int64_t, int64_t);
  static constexpr F32Row kF32Rows[] = {binary_f32_row<BinaryOp::add>, binary_f32_row<BinaryOp::sub>,
                                        binary_f32_row<BinaryOp::mul>, binary_f32_row<BinaryOp::div>,
                                        binary_f32_row<BinaryOp::max>, binary_f32_row<BinaryOp::min>};
  const F32Row f32_row = kF32Rows[static_cast<int>(op)];
  two_input_rows(
      ctx, out, a, b, f32_row,
      [op](double* x, const double* y, int64_t n) {
        for (int64_t i = 0; i < n; i++) x[i] = binary_op(op, x[i], y[i]);
      });
}

void swiglu(const Context& ctx, const Tensor& out, const Tensor& gate, const Tensor& up) {
  if (!out.same_shape(gate) || !out.same_shape(up))
    fail("out " + out.describe() + ", gate " + gate.describe() + " and up " + up.describe() + " differ");
  // As the composite computes it: silu rounded to f32, then an f32 product.
  two_input_rows(
      ctx, out, gate, up,
      [&ctx](float* fo, int64_t so, const float* fg, int64_t sg, const float* fu, int64_t su, int64_t n) {
        if (so == 1 && sg == 1 && su == 1) return swiglu_row(ctx.isa, fg, fu, fo, n);
        // Strided operands: through contiguous scratch rows.
        float* g = scratch<float, 0>(n);
        float* u = scratch<float, 1>(n);
        for (int64_t i = 0; i < n; i++) g[i] = fg[i * sg], u[i] = fu[i * su];
        swiglu_row(ctx.isa, g, u, g, n);
        for (int64_t i = 0; i < n; i++) fo[i * so] = g[i];
      },
      [](double* x, const double* y, int64_t n) {
        for (int64_t i = 0; i < n; i++) x[i] = static_cast<float>(silu(x[i])) * y[i];
      });
}

}  // namespace dsa
