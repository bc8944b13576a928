// linear: out[m, n] = Σ_k x[m, k] · W[n, k] with W in its checkpoint dtype (f32, bf16, f16, f8_e4m3
// with 128x128 block scales, or i8 with 1x32 block scales: GGUF Q8_0), dequantized in registers by the ISA's dot
// kernel (gemm-*.cc). Output columns are split across the thread pool.
#include <algorithm>
#include <string>
#include <vector>

#include "convert.h"
#include "gemm.h"
#include "kernels.h"
#include "pool.h"

namespace dsa {

void block_scale_rows(const Tensor& scale, int64_t n, int64_t block_n, int64_t cols, std::vector<float>& converted,
                      std::vector<const float*>& rows) {
  // In place where possible: Q8_0's 1x32 blocks give N·K/32 scales, and converting them on every call once
  // cost more than the GEMV itself.
  const float* base;
  int64_t ld;
  if (scale.dtype == DType::f32 && (scale.strides[1] == 1 || cols <= 1)) {
    base = scale.ptr<float>();
    ld = scale.strides[0];
  } else {
    const int64_t blocks = (n + block_n - 1) / block_n;
    converted.resize(static_cast<size_t>(blocks * cols));
    for (int64_t r = 0; r < blocks; r++)
      for (int64_t c = 0; c < cols; c++)
        converted[r * cols + c] =
            static_cast<float>(load_f64(scale.at(r * scale.strides[0] + c * scale.strides[1]), scale.dtype));
    base = converted.data();
    ld = cols;
  }
  rows.resize(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; r++) rows[r] = base + (r / block_n) * ld;
}

void linear(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& weight, const Tensor* scale_inv,
            int64_t block_n, int64_t block_k) {
  expect_rank("x", x, 2);
  expect_rank("weight", weight, 2);
  if (weight.dtype != DType::f32 && weight.dtype != DType::bf16 && weight.dtype != DType::f16 &&
      weight.dtype != DType::f8_e4m3 && weight.dtype != DType::i8)
    fail(std::string("weight has dtype ") + dtype_name(weight.dtype) +
         ", expected f32 or bf16 or f16 or f8_e4m3 or i8");
  const int64_t M = x.shape[0], K = x.shape[1], N = weight.shape[0];
  if (weight.shape[1] != K) fail("x " + x.describe() + " does not match weight " + weight.describe());
  expect_shape("out", out, {M, N});
  expect_dense_rows("weight", weight);
  // Per-thread scratch, reused across calls (the lm head's 32000 row pointers would otherwise be a
  // fresh mmap'd allocation on every decode step).
  thread_local std::vector<float> scales;
  thread_local std::vector<const float*> scale_rows;
  thread_local std::vector<const uint8_t*> weight_rows;
  scale_rows.clear();
  int64_t scale_cols = 0;
  const bool block_scaled = weight.dtype == DType::f8_e4m3 || weight.dtype == DType::i8;
  if (block_scaled) {
    if (scale_inv == nullptr) fail(std::string(dtype_name(weight.dtype)) + " weight without scaleInv");
    if (block_n < 1 || block_k < 1) fail("block size must be positive");
    const int64_t rows = (N + block_n - 1) / block_n;
    scale_cols = (K + block_k - 1) / block_k;
    expect_shape("scaleInv", *scale_inv, {rows, scale_cols});
    block_scale_rows(*scale_inv, N, block_n, scale_cols, scales, scale_rows);
  } else if (scale_inv != nullptr) {
    fail(std::string("scaleInv given for a ") + dtype_name(weight.dtype) + " weight");
  }
  if (M == 0 || N == 0) return;

  // x as dense f32 rows.
  std::vector<float> x_packed;
  const float* xp;
  int64_t ldx;
  if (x.dtype == DType::f32 && (x.strides[1] == 1 || K <= 1)) {
    xp = x.ptr<float>();
    ldx = x.strides[0];
  } else {
    x_packed.resize(static_cast<size_t>(M * K));
    for (int64_t m = 0; m < M; m++) load_row_f32(x_packed.data() + m * K, x.at(m * x.strides[0]), x.dtype, K, x.strides[1]);
    xp = x_packed.data();
    ldx = K;
  }
  // out as dense f32 rows (a scratch copy when it is strided or another dtype).
  std::vector<float> out_packed;
  float* op;
  int64_t ldo;
  const bool direct = out.dtype == DType::f32 && (out.strides[1] == 1 || N <= 1);
  if (direct) {
    op = out.ptr<float>();
    ldo = out.strides[0];
  } else {
    out_packed.resize(static_cast<size_t>(M * N));
    op = out_packed.data();
    ldo = N;
  }
  weight_rows.resize(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; n++) weight_rows[n] = weight.at(n * weight.strides[0]);

  const DotGemm g{xp,       ldx, M, K, weight_rows.data(), weight.dtype, scale_rows.empty() ? nullptr : scale_rows.data(),
                  block_k, op,  ldo, /*alpha*/ 1.0f};
  if (ctx.isa >= kAvx512Bf16 && bf16_dot_applies(g)) {
    // Opt-in bf16 precision: x rounded to bf16 once, vdpbf16ps with f32 accumulation.
    thread_local std::vector<uint16_t> xb;
    xb.resize(static_cast<size_t>(M * bf16_x_row(g)));
    to_bf16_avx512bf16(g, xb.data());
    const uint16_t* xbp = xb.data();
    const int64_t grain = std::max<int64_t>(16, 65536 / std::max<int64_t>(1, M * K));
    parallel_for_aligned(ctx, N, 16, grain, [&](int64_t n0, int64_t n1) { dot_bf16_avx512bf16(g, xbp, n0, n1); });
  } else {
    const GemmKernels& kernels = gemm_for(ctx.isa);
    // About 64K multiply-adds per task at least, in multiples of 16 output columns.
    const int64_t grain = std::max<int64_t>(16, 65536 / std::max<int64_t>(1, M * K));
    parallel_for_aligned(ctx, N, 16, grain, [&](int64_t n0, int64_t n1) { kernels.dot(g, n0, n1); });
  }

  if (!direct)
    for (int64_t m = 0; m < M; m++) store_row_f32(out.at(m * out.strides[0]), out.dtype, out.strides[1], op + m * N, N);
}

}  // namespace dsa
