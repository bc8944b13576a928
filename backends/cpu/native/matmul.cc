// matmul: out[b] = alpha · a[b] · op(b[b]) for batched 3-D views with any strides (0 broadcasts).
// Each batch item becomes one GEMM: the dot form when b's rows run along K (transposeB, or a
// transposed view), the axpy form when they run along N; a and b elements of any float dtype
// (b is widened in registers; a is packed to f32 when it is not dense f32). In the opt-in bf16 precision a bf16 b
// takes the dot form as `linear` does (a rounded to bf16, vdpbf16ps or, on AMX, the tiles; sums f32), and on
// AMX (has_amx_bf16) also the axpy form, with b's rows paired into B tiles (gemm-amx-bf16.cc).
#include <algorithm>
#include <string>
#include <vector>

#include "convert.h"
#include "gemm.h"
#include "kernels.h"
#include "pool.h"

namespace dsa {

namespace {

struct Plan {
  int64_t batch, M, N, K;
  bool dot;                         // dot form (b rows along K) or axpy form (b rows along N)
  int64_t b_row_stride, b_k_stride;  // element strides of b's rows and within them (b_k_stride 1)
  bool pack_b;                      // b must be packed to dense f32 [K, N]
};

void run_item(const Context& ctx, const GemmKernels& kernels, const Plan& plan, const Tensor& out, const Tensor& a,
              const Tensor& b, float alpha, int64_t p) {
  const int64_t M = plan.M, N = plan.N, K = plan.K;
  // a[p] as dense f32 rows
  std::vector<float> a_packed;
  const float* ap;
  int64_t lda;
  const uint8_t* a_base = a.at(p * a.strides[0]);
  if (a.dtype == DType::f32 && (a.strides[2] == 1 || K <= 1)) {
    ap = reinterpret_cast<const float*>(a_base);
    lda = a.strides[1];
  } else {
    a_packed.resize(static_cast<size_t>(M * K));
    for (int64_t m = 0; m < M; m++)
      load_row_f32(a_packed.data() + m * K, a_base + m * a.strides[1] * a.bytes(), a.dtype, K, a.strides[2]);
    ap = a_packed.data();
    lda = K;
  }
  // out[p] as dense f32 rows
  std::vector<float> out_packed;
  float* op;
  int64_t ldo;
  uint8_t* out_base = out.at(p * out.strides[0]);
  const bool direct = out.dtype == DType::f32 && (out.strides[2] == 1 || N <= 1);
  if (direct) {
    op = reinterpret_cast<float*>(out_base);
    ldo = out.strides[1];
  } else {
    out_packed.resize(static_cast<size_t>(M * N));
    op = out_packed.data();
    ldo = N;
  }
  const uint8_t* b_base = b.at(p * b.strides[0]);
  std::vector<float> b_packed;
  // The axpy form's row pointers, kept per thread across items and calls (a decode step's 16 heads each asked
  // for a fresh vector); the dot form takes b's first row and stride instead.
  thread_local std::vector<const uint8_t*> rows_buffer;
  std::vector<const uint8_t*>& rows = rows_buffer;
  DType bdtype = b.dtype;
  if (plan.pack_b) {
    // b[p] as dense f32 [K, N], element (k, n) at b.strides[1]·k + b.strides[2]·n (not transposed) or
    // b.strides[1]·n + b.strides[2]·k (transposed).
    b_packed.resize(static_cast<size_t>(K * N));
    int64_t sk = plan.b_row_stride, sn = plan.b_k_stride;
    for (int64_t k = 0; k < K; k++)
      for (int64_t n = 0; n < N; n++)
        b_packed[k * N + n] = static_cast<float>(load_f64(b_base + (k * sk + n * sn) * b.bytes(), b.dtype));
    rows.resize(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; k++) rows[k] = reinterpret_cast<const uint8_t*>(b_packed.data() + k * N);
    bdtype = DType::f32;
  } else if (!plan.dot) {
    rows.resize(static_cast<size_t>(K));
    for (int64_t k = 0; k < K; k++) rows[k] = b_base + k * plan.b_row_stride * b.bytes();
  }
  const bool bf16 = ctx.isa >= kAvx512Bf16;
  if (plan.dot && !plan.pack_b) {
    DotGemm g{ap, lda, M, K, /*w*/ nullptr, bdtype, /*wscale*/ nullptr, /*bk*/ K, op, ldo, alpha};
    g.w_base = b_base;
    g.w_stride = plan.b_row_stride * b.bytes();
    const int64_t grain = std::max<int64_t>(16, 65536 / std::max<int64_t>(1, M * K));
    // The bf16 precision: a rounded to bf16 and vdpbf16ps, as linear (on AMX its tiles, which
    // dot_bf16_avx512bf16 takes itself). small's W_UV absorption, [16, M, 128] · [16, 64, 128]ᵀ from L3, µs per
    // call on the f32 kernels against these (bench/matmul-ab.mjs, 2-core Zen 4): M = 8 26.5 / 20.3, M = 32
    // 95.4 / 71.2.
    const bool vdp = bf16 && bf16_dot_applies(g);
    parallel_for_aligned(ctx, N, 16, grain, [&](int64_t n0, int64_t n1) {
      if (!vdp) return kernels.dot(g, n0, n1);
      dot_bf16_avx512bf16(g, bf16_x_here(g), n0, n1);
    });
  } else {
    const AxpyGemm g{ap, lda, M, K, rows.data(), bdtype, op, ldo, alpha};
    const int64_t grain = std::max<int64_t>(64, 65536 / std::max<int64_t>(1, M * K));
    const bool amx = bf16 && amx_axpy_applies(g);
    parallel_for_aligned(ctx, N, 64, grain, [&](int64_t n0, int64_t n1) {
      if (amx) return axpy_amx_bf16(g, n0, n1);
      kernels.axpy(g, n0, n1);
    });
  }
  if (!direct)
    for (int64_t m = 0; m < M; m++)
      store_row_f32(out_base + m * out.strides[1] * out.bytes(), out.dtype, out.strides[2], op + m * N, N);
}

}  // namespace

void matmul(const Context& ctx, const Tensor& out, const Tensor& a, const Tensor& b, bool transpose_b,
            double alpha) {
  expect_rank("a", a, 3);
  expect_rank("b", b, 3);
  expect_rank("out", out, 3);
  const int64_t batch = a.shape[0], M = a.shape[1], K = a.shape[2];
  const int64_t N = transpose_b ? b.shape[1] : b.shape[2];
  if (b.shape[0] != batch || (transpose_b ? b.shape[2] : b.shape[1]) != K)
    fail("a " + a.describe() + " and b " + b.describe() + (transpose_b ? " (transposed)" : "") + " do not multiply");
  expect_shape("out", out, {batch, M, N});
  if (batch == 0 || M == 0 || N == 0) return;
  if (!is_float(a.dtype) || !is_float(b.dtype)) fail("a and b must be float tensors");

  // Strides of b along K and along N.
  const int64_t sk = transpose_b ? b.strides[2] : b.strides[1];
  const int64_t sn = transpose_b ? b.strides[1] : b.strides[2];
  Plan plan{batch, M, N, K, false, 0, 1, false};
  const bool simd_dtype = b.dtype == DType::f32 || b.dtype == DType::bf16 || b.dtype == DType::f16;
  if ((sk == 1 || K <= 1) && (transpose_b || sn != 1) && simd_dtype) {
    plan.dot = true;  // rows of b along K: b row n at n · sn
    plan.b_row_stride = sn;
  } else if ((sn == 1 || N <= 1) && simd_dtype) {
    plan.dot = false;  // rows of b along N: b row k at k · sk
    plan.b_row_stride = sk;
  } else {
    plan.pack_b = true;
    plan.b_row_stride = sk;
    plan.b_k_stride = sn;
  }
  if (K == 0) {
    for (int64_t p = 0; p < batch; p++)
      for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) store_f64(out.at(p * out.strides[0] + m * out.strides[1] + n * out.strides[2]), out.dtype, 0);
    return;
  }
  const GemmKernels& kernels = gemm_for(ctx.isa);
  const float alpha_f = static_cast<float>(alpha);
  const int64_t work = M * N * K;
  if (batch >= 2 && ctx.threads > 1 && (batch >= 2 * ctx.threads || work < (1 << 20))) {
    // Many small items: one per task, each run serially.
    Context serial = ctx;
    serial.threads = 1;
    parallel_for(ctx, batch, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, work)), [&](int64_t b0, int64_t b1) {
      for (int64_t p = b0; p < b1; p++) run_item(serial, kernels, plan, out, a, b, alpha_f, p);
    });
    return;
  }
  for (int64_t p = 0; p < batch; p++) run_item(ctx, kernels, plan, out, a, b, alpha_f, p);
}

}  // namespace dsa
