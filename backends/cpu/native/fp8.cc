// quantizeFp8 (DeepSeek act_quant) and dequantizeFp8, bit-exact with backends/reference/src/fp8-quant.ts:
// amax = max(|x|, 1e-4) in double per block; scale = f32(amax / 448) or, for ue8m0, 2^ceil(log2)
// of that f32 read from its bit pattern; q = e4m3(clamp(f32(x / scale), ±448)) rounding to nearest even.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "convert.h"
#include "fp8-quantize-avx512.h"
#include "kernels.h"
#include "segments.h"

namespace dsa {

namespace {

double ue8m0_scale(double amax) {
  float ratio = static_cast<float>(amax / 448.0);
  uint32_t bits = f32_to_bits(ratio);
  int exponent = static_cast<int>((bits >> 23) & 0xff) - 127 + ((bits & 0x7fffff) != 0 ? 1 : 0);
  return std::ldexp(1.0, exponent);
}

// The rows of both kernels: `source` [rows, d] in blocks of blockSize along d.
struct ScaledRows {
  int64_t rows, d, blocks;
};

// Checks blockSize and the shapes of `other` [rows, d] and `scale` [rows, blocks] against the rank-2 `source`.
ScaledRows check_scaled_rows(const Tensor& source, const char* other_name, const Tensor& other, const Tensor& scale,
                             int64_t block_size) {
  if (block_size < 1) fail("blockSize " + std::to_string(block_size) + " must be positive");
  const ScaledRows s{source.shape[0], source.shape[1], (source.shape[1] + block_size - 1) / block_size};
  expect_shape(other_name, other, {s.rows, s.d});
  expect_shape("scale", scale, {s.rows, s.blocks});
  return s;
}

// The scalar row walk of both kernels: row(r, v) for every row r of the checked `source`, with v its values
// widened to f64 (thread-local scratch).
template <class Row>
void for_each_scaled_row(const Context& ctx, const Tensor& source, const ScaledRows& s, Row row) {
  parallel_for(ctx, s.rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, s.d)), [&](int64_t b, int64_t e) {
    double* v = scratch<double>(s.d);
    for (int64_t r = b; r < e; r++) {
      load_row_f64(v, source.at(r * source.strides[0]), source.dtype, s.d, source.strides[1]);
      row(r, v);
    }
  });
}

// Row r of quantizeFp8 from its values v[0, d) widened to f64: the scalar walk.
void quantize_row(const Tensor& q, const Tensor& scale, int64_t r, const double* v, int64_t d, int64_t block_size,
                  bool ue8m0) {
  uint8_t* qrow = q.at(r * q.strides[0]);
  for (int64_t start = 0, blk = 0; start < d; start += block_size, blk++) {
    const int64_t end = std::min(d, start + block_size);
    // A NaN makes amax NaN, as JavaScript's Math.max and torch's amax do (std::max would skip it).
    double amax = 1e-4;
    for (int64_t i = start; i < end; i++)
      amax = std::isnan(v[i]) || std::isnan(amax) ? std::numeric_limits<double>::quiet_NaN()
                                                  : std::max(amax, std::fabs(v[i]));
    double s = ue8m0 ? ue8m0_scale(amax) : static_cast<double>(static_cast<float>(amax / 448.0));
    store_f64(scale.at(r * scale.strides[0] + blk * scale.strides[1]), scale.dtype, s);
    for (int64_t i = start; i < end; i++) {
      double y = static_cast<float>(v[i] / s);
      if (!std::isnan(y)) y = std::min(448.0, std::max(-448.0, y));
      qrow[i * q.strides[1]] = f64_to_fp8(y);
    }
  }
}

}  // namespace

void quantize_fp8(const Context& ctx, const Tensor& q, const Tensor& scale, const Tensor& x, int64_t block_size,
                  bool ue8m0) {
  expect_rank("x", x, 2);
  expect_dtype("q", q, DType::f8_e4m3);
  const ScaledRows s = check_scaled_rows(x, "q", q, scale, block_size);
  const int64_t d = s.d;
  // Dense f32 rows on AVX-512: the vector walk (the same bits); else the scalar one below.
  const bool dense = x.dtype == DType::f32 && (x.strides[1] == 1 || x.shape[1] <= 1) &&
                     (q.strides[1] == 1 || q.shape[1] <= 1) && scale.dtype == DType::f32 &&
                     (scale.strides[1] == 1 || scale.shape[1] <= 1);
  if (dense && ctx.isa >= kAvx512) {
    parallel_for(ctx, s.rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, d)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; r++) {
        const float* xr = reinterpret_cast<const float*>(x.at(r * x.strides[0]));
        if (quantize_fp8_row_avx512(xr, d, block_size, ue8m0, q.at(r * q.strides[0]),
                                    reinterpret_cast<float*>(scale.at(r * scale.strides[0])), ue8m0_scale))
          continue;
        // An Infinity or a NaN in the row: the scalar walk.
        double* v = scratch<double>(d);
        load_row_f64(v, x.at(r * x.strides[0]), x.dtype, d, x.strides[1]);
        quantize_row(q, scale, r, v, d, block_size, ue8m0);
      }
    });
    return;
  }
  for_each_scaled_row(ctx, x, s, [&](int64_t r, double* v) { quantize_row(q, scale, r, v, d, block_size, ue8m0); });
}

void dequantize_fp8(const Context& ctx, const Tensor& out, const Tensor& q, const Tensor& scale, int64_t block_size) {
  expect_rank("q", q, 2);
  const ScaledRows s = check_scaled_rows(q, "out", out, scale, block_size);
  const int64_t d = s.d;
  if (q.dtype == DType::f8_e4m3 && out.dtype == DType::f32 && scale.dtype == DType::f32 && q.strides[1] == 1 &&
      out.strides[1] == 1) {
    // e4m3 · scale as an f32 product: both are exact in f32, so it rounds as the double product stored to f32
    // does (the general rows below), without a dtype switch and a division per element.
    parallel_for(ctx, s.rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, d)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; r++) {
        const uint8_t* qr = q.at(r * q.strides[0]);
        float* o = reinterpret_cast<float*>(out.at(r * out.strides[0]));
        for (int64_t start = 0, blk = 0; start < d; start += block_size, blk++) {
          const float sc = *reinterpret_cast<const float*>(scale.at(r * scale.strides[0] + blk * scale.strides[1]));
          const int64_t end = std::min(d, start + block_size);
          for (int64_t i = start; i < end; i++) o[i] = fp8_to_f32(qr[i]) * sc;
        }
      }
    });
    return;
  }
  for_each_scaled_row(ctx, q, s, [&](int64_t r, double* v) {
    for (int64_t i = 0; i < d; i++)
      v[i] *= load_f64(scale.at(r * scale.strides[0] + (i / block_size) * scale.strides[1]), scale.dtype);
    store_row_f64(out.at(r * out.strides[0]), out.dtype, out.strides[1], v, d);
  });
}

}  // namespace dsa
