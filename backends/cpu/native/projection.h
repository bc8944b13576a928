// A LinearWeight resolved for the dot kernels (gemm.h): where its rows lie (the first and the stride: no pointer per
// row, which cost the lm head 32000 and a batch of 32 on small's MoE layers 39,000 writes per call) and, for
// block-scaled weights, each row's block scales. linear, linears (linear.cc) and moeExperts (moe-experts.cc)
// resolve their weights here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gemm.h"
#include "kernels.h"

namespace dsa {

struct Projection {
  const uint8_t* base = nullptr;  // weight row 0
  int64_t stride = 0;             // bytes from one weight row to the next
  std::vector<float> scales;         // block scales converted to f32, where they are not read in place
  std::vector<const float*> scale_rows;  // [N]: row n's block scales (empty: unscaled)
  DType dtype = DType::f32;
  int64_t bk = 1;  // block width of the scales along K

  // The dot problem for output rows [row0, ...) of this projection, written from column 0 of out.
  DotGemm gemm(const float* x, int64_t ldx, int64_t m, int64_t k, float* out, int64_t ldo, int64_t row0) const {
    DotGemm g{};
    g.x = x;
    g.ldx = ldx;
    g.M = m;
    g.K = k;
    g.w = nullptr;
    g.w_base = base + row0 * stride;
    g.w_stride = stride;
    g.wdtype = dtype;
    g.wscale = scale_rows.empty() ? nullptr : scale_rows.data() + row0;
    g.bk = bk;
    g.out = out;
    g.ldo = ldo;
    g.alpha = 1.0f;
    return g;
  }
};

// Checks weight `w` against [n, k] and resolves it into p. `name()` spells the weight's name
// ("experts[3].gate.weight") for an error only: building names on every call cost more than the checks
// (moeExperts resolves three projections per active expert on every MoE layer of every decode step).
template <class Name>
void resolve_projection(Projection& p, const LinearWeightArgs& w, int64_t n, int64_t k, Name&& name) {
  const Tensor& weight = w.weight;
  if (weight.dtype != DType::f32 && weight.dtype != DType::bf16 && weight.dtype != DType::f16 &&
      weight.dtype != DType::f8_e4m3 && weight.dtype != DType::i8)
    fail(name() + " has dtype " + dtype_name(weight.dtype) + ", expected f32 or bf16 or f16 or f8_e4m3 or i8");
  if (weight.rank != 2) expect_rank(name().c_str(), weight, 2);
  if (weight.shape[0] != n || weight.shape[1] != k)
    fail(name() + " is " + weight.describe() + ", expected [" + std::to_string(n) + ", " + std::to_string(k) + "]");
  if (k > 1 && weight.strides[1] != 1) expect_dense_rows(name().c_str(), weight);
  p.dtype = weight.dtype;
  p.base = n > 0 ? weight.at(0) : nullptr;
  p.stride = weight.strides[0] * static_cast<int64_t>(dtype_bytes(weight.dtype));
  p.scale_rows.clear();
  p.bk = 1;
  if (weight.dtype == DType::f8_e4m3 || weight.dtype == DType::i8) {
    if (!w.has_scale) fail(name() + ": " + dtype_name(weight.dtype) + " weight without scaleInv");
    if (w.block_n < 1 || w.block_k < 1) fail(name() + ": block size must be positive");
    const int64_t rows = (n + w.block_n - 1) / w.block_n, cols = (k + w.block_k - 1) / w.block_k;
    if (!has_shape(w.scale, {rows, cols})) expect_shape((name() + ".scaleInv").c_str(), w.scale, {rows, cols});
    block_scale_rows(w.scale, n, w.block_n, cols, p.scales, p.scale_rows);
    p.bk = w.block_k;
  } else if (w.has_scale) {
    fail(name() + ": scaleInv given for a " + dtype_name(weight.dtype) + " weight");
  }
}

}  // namespace dsa
