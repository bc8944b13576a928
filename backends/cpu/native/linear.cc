// linear: out[m, n] = Σ_k x[m, k] · W[n, k] with W in its checkpoint dtype (f32, bf16, f16, f8_e4m3
// with 128x128 block scales, or i8 with 1x32 block scales: GGUF Q8_0), dequantized in registers by the ISA's dot
// kernel (gemm-*.cc). Output columns are split across the thread pool.
// linears: several weights against one x, their output columns as one range split across the pool (each
// weight's own columns from a multiple of 16), so a thread's stream runs on from one weight into the next.
// Every output column is the same sequence of operations whatever the split (gemm.h), so each output gets the
// bits `linear` gives it.
#include <algorithm>
#include <string>
#include <vector>

#include "convert.h"
#include "gemm.h"
#include "kernels.h"
#include "pool.h"
#include "projection.h"

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

namespace {

// x as dense f32 rows [M, K]: x's own memory (f32 with unit column stride), else converted into `packed`.
const float* dense_rows(const Tensor& x, int64_t M, int64_t K, std::vector<float>& packed, int64_t& ldx) {
  if (x.dtype == DType::f32 && (x.strides[1] == 1 || K <= 1)) {
    ldx = x.strides[0];
    return x.ptr<float>();
  }
  packed.resize(static_cast<size_t>(M * K));
  for (int64_t m = 0; m < M; m++) load_row_f32(packed.data() + m * K, x.at(m * x.strides[0]), x.dtype, K, x.strides[1]);
  ldx = K;
  return packed.data();
}

// One output [M, N] as dense f32 rows: its own memory (f32 with unit column stride), else a scratch copy that
// store() writes back.
struct OutRows {
  float* p = nullptr;
  int64_t ld = 0;
  bool direct = true;
  std::vector<float> packed;

  void bind(const Tensor& out, int64_t M, int64_t N) {
    direct = out.dtype == DType::f32 && (out.strides[1] == 1 || N <= 1);
    if (direct) {
      p = out.ptr<float>();
      ld = out.strides[0];
      return;
    }
    packed.resize(static_cast<size_t>(M * N));
    p = packed.data();
    ld = N;
  }
  void store(const Tensor& out, int64_t M, int64_t N) const {
    if (direct) return;
    for (int64_t m = 0; m < M; m++) store_row_f32(out.at(m * out.strides[0]), out.dtype, out.strides[1], p + m * N, N);
  }
};

// Whether two dot problems read x rounded to bf16 in the same layout (to_bf16_avx512bf16 depends on these only).
bool same_bf16_x(const DotGemm& a, const DotGemm& b) {
  return a.x == b.x && a.ldx == b.ldx && a.M == b.M && a.K == b.K && a.wdtype == b.wdtype &&
         (a.wscale == nullptr) == (b.wscale == nullptr) && a.bk == b.bk;
}

// Runs the dot problems `gs` (all of the same x) on the pool: their output columns as one range, problem i's
// from offset[i] (a multiple of 16), about 64K multiply-adds per task at least. In the bf16 precision x is
// rounded once per layout (thread-local buffers, kept for later calls).
void run_dots(const Context& ctx, const std::vector<DotGemm>& gs, const std::vector<int64_t>& columns) {
  const size_t count = gs.size();
  std::vector<int64_t> offset(count + 1, 0);
  for (size_t i = 0; i < count; i++) offset[i + 1] = offset[i] + (i + 1 < count ? (columns[i] + 15) / 16 * 16 : columns[i]);
  thread_local std::vector<std::vector<uint16_t>> xb;
  thread_local std::vector<std::vector<uint32_t>> xt;  // on AMX: x's B tiles
  std::vector<const uint16_t*> xbp(count, nullptr);
  std::vector<const uint32_t*> xtp(count, nullptr);
  if (xb.size() < count) xb.resize(count);
  if (xt.size() < count) xt.resize(count);
  for (size_t i = 0; i < count; i++) {
    if (!(ctx.isa >= kAvx512Bf16 && bf16_dot_applies(gs[i]))) continue;
    for (size_t j = 0; j < i && xbp[i] == nullptr; j++)
      if (xbp[j] != nullptr && same_bf16_x(gs[i], gs[j])) {
        xbp[i] = xbp[j];
        xtp[i] = xtp[j];  // AMX applies to both or neither: it depends on what same_bf16_x compares
      }
    if (xbp[i] != nullptr) continue;
    // Opt-in bf16 precision: x rounded to bf16 once, vdpbf16ps with f32 accumulation; on AMX, packed once more
    // into B tiles, over the pool by groups of 16 rows.
    xb[i].resize(static_cast<size_t>(gs[i].M * bf16_x_row(gs[i])));
    to_bf16_avx512bf16(gs[i], xb[i].data());
    xbp[i] = xb[i].data();
    if (!amx_dot_applies(gs[i])) continue;
    xt[i].resize(static_cast<size_t>(amx_x_size(gs[i])));
    uint32_t* tiles = amx_x_tiles(xt[i].data());
    parallel_for(ctx, (gs[i].M + 15) / 16, std::max<int64_t>(1, 8192 / gs[i].K),
                 [&](int64_t q0, int64_t q1) { amx_pack_x(gs[i], xbp[i], tiles, q0, q1); });
    xtp[i] = tiles;
  }
  const GemmKernels& kernels = gemm_for(ctx.isa);
  const int64_t M = gs[0].M, K = gs[0].K;
  const int64_t grain = std::max<int64_t>(16, 65536 / std::max<int64_t>(1, M * K));
  // One row of x (decode): one contiguous range of the weights per thread (chunks_per_thread 1), a single stream
  // each, instead of four chunks per thread claimed in turn (each a new stream). Replayed decode steps alternating
  // both ways in one process: small at 240 layers 1.3-2.5% faster (five runs), at 8 layers 5.6% (bf16 precision
  // 1.3%), v32-dims fp8 1.7%, bf16 unchanged. More rows keep the chunks, which even out a thread that starts late
  // (no gain at 32).
  parallel_for_aligned(
      ctx, offset[count], 16, grain,
      [&](int64_t n0, int64_t n1) {
        for (size_t i = 0; i < count; i++) {
          const int64_t b = std::max(n0, offset[i]) - offset[i], e = std::min(n1, offset[i] + columns[i]) - offset[i];
          if (b >= e) continue;
          if (xtp[i] != nullptr)
            dot_amx_packed(gs[i], xtp[i], b, e);
          else if (xbp[i] != nullptr)
            dot_bf16_avx512bf16(gs[i], xbp[i], b, e);
          else
            kernels.dot(gs[i], b, e);
        }
      },
      M == 1 ? 1 : 4);
}

}  // namespace

void linear(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& weight, const Tensor* scale_inv,
            int64_t block_n, int64_t block_k) {
  expect_rank("x", x, 2);
  expect_rank("weight", weight, 2);
  const int64_t M = x.shape[0], K = x.shape[1], N = weight.shape[0];
  if (weight.shape[1] != K) fail("x " + x.describe() + " does not match weight " + weight.describe());
  expect_shape("out", out, {M, N});
  // Per-thread, reused across calls (the lm head's 32000 row pointers would otherwise be a fresh mmap'd
  // allocation on every decode step).
  thread_local Projection projection;
  LinearWeightArgs w;
  w.weight = weight;
  w.has_scale = scale_inv != nullptr;
  if (w.has_scale) w.scale = *scale_inv;
  w.block_n = block_n;
  w.block_k = block_k;
  resolve_projection(projection, w, N, K, [] { return std::string("weight"); });
  if (M == 0 || N == 0) return;
  std::vector<float> x_packed;
  int64_t ldx;
  const float* xp = dense_rows(x, M, K, x_packed, ldx);
  OutRows o;
  o.bind(out, M, N);
  run_dots(ctx, {projection.gemm(xp, ldx, M, K, o.p, o.ld, 0)}, {N});
  o.store(out, M, N);
}

void linears(const Context& ctx, const Tensor& x, const std::vector<LinearPart>& parts) {
  expect_rank("x", x, 2);
  const int64_t M = x.shape[0], K = x.shape[1];
  const size_t count = parts.size();
  thread_local std::vector<Projection> projections;
  if (projections.size() < count) projections.resize(count);
  std::vector<int64_t> columns(count);
  for (size_t i = 0; i < count; i++) {
    const auto name = [i](const char* what) { return std::string(what) + "[" + std::to_string(i) + "]"; };
    const Tensor& weight = parts[i].weight.weight;
    if (weight.rank != 2) expect_rank(name("weights").c_str(), weight, 2);
    if (weight.shape[1] != K) fail("x " + x.describe() + " does not match " + name("weights") + " " + weight.describe());
    columns[i] = weight.shape[0];
    resolve_projection(projections[i], parts[i].weight, columns[i], K, [&] { return name("weights"); });
    if (!has_shape(parts[i].out, {M, columns[i]}))
      expect_shape(name("outs").c_str(), parts[i].out, {M, columns[i]});
  }
  if (M == 0 || count == 0) return;
  std::vector<float> x_packed;
  int64_t ldx;
  const float* xp = dense_rows(x, M, K, x_packed, ldx);
  std::vector<OutRows> outs(count);
  std::vector<DotGemm> gs;
  std::vector<int64_t> nonempty;
  for (size_t i = 0; i < count; i++) {
    if (columns[i] == 0) continue;
    outs[i].bind(parts[i].out, M, columns[i]);
    gs.push_back(projections[i].gemm(xp, ldx, M, K, outs[i].p, outs[i].ld, 0));
    nonempty.push_back(columns[i]);
  }
  if (!gs.empty()) run_dots(ctx, gs, nonempty);
  for (size_t i = 0; i < count; i++)
    if (columns[i] != 0) outs[i].store(parts[i].out, M, columns[i]);
}

}  // namespace dsa
