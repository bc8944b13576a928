// Fused routed experts (FusedKernels.moeExperts): out[n] = Σ_a weights[n, a] · expert_{indices[n, a]}(x[n])
// in one call, with the composite's exact arithmetic (packages/moe/src/moe-experts.ts):
//   1. rows are grouped per expert, experts ascending, each expert's rows in (token, slot) order;
//   2. per active expert, gate and up run through the dot kernel `linear` uses (the ISA's, or the bf16
//      precision's where it applies: every output is the same sequence of operations whatever the tile
//      or the number of rows), then
//      silu(gate) · up rounded as the `swiglu` kernel does; tasks are (expert, column tile) pairs;
//   3. down runs per output-column tile over every active expert in ascending order, each row added
//      into out as `indexAdd` does (out = f32(out + w · y)), so a token's contributions are summed
//      in (expert, slot) order: the slot order when its experts are ascending, as the router writes them.
// The result is bit-identical to the composite on this backend, and a token's row does not depend on
// the other tokens of the batch. Scratch is per thread; the only per-call buffer is h [rows, I].
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "add-scaled-row.h"
#include "convert.h"
#include "gemm.h"
#include "kernels.h"
#include "pool.h"
#include "projection.h"
#include "segments.h"
#include "swiglu-row.h"

namespace dsa {

namespace {

// A width in [16, n], a multiple of 16 (or n), giving about `parts` tiles of n.
int64_t tile_width(int64_t n, int64_t parts) {
  int64_t width = (n + parts - 1) / std::max<int64_t>(1, parts);
  width = std::max<int64_t>(16, (width + 15) / 16 * 16);
  return std::min(width, n);
}

// out columns [0, n) of g on this thread: by the bf16 precision's kernel where the call asks for it and it
// applies (x rounded to bf16 into this thread's scratch first), else by the ISA's dot kernel, as linear.cc.
void dot(const Context& ctx, const GemmKernels& kernels, const DotGemm& g, int64_t n) {
  if (ctx.isa >= kAvx512Bf16 && bf16_dot_applies(g)) return dot_bf16_avx512bf16(g, bf16_x_here(g), 0, n);
  kernels.dot(g, 0, n);
}

// gate and up of one task (the same x): as dot() each, with x rounded to bf16 once for both where the bf16
// precision applies to both in the same layout (the same bf16 rows as two roundings, once).
void dot_gate_up(const Context& ctx, const GemmKernels& kernels, const DotGemm& gate, const DotGemm& up, int64_t n) {
  if (ctx.isa >= kAvx512Bf16 && bf16_dot_applies(gate) && bf16_dot_applies(up) && gate.wdtype == up.wdtype &&
      gate.bk == up.bk) {
    const uint16_t* xb = bf16_x_here(gate);
    if (amx_dot_applies(gate) && amx_dot_applies(up)) {  // x's B tiles once for both
      const uint32_t* tiles = amx_pack_x_here(gate, xb);
      dot_amx_packed(gate, tiles, 0, n);
      return dot_amx_packed(up, tiles, 0, n);
    }
    dot_bf16_avx512bf16(gate, xb, 0, n);
    return dot_bf16_avx512bf16(up, xb, 0, n);
  }
  dot(ctx, kernels, gate, n);
  dot(ctx, kernels, up, n);
}

// Runs body(task) for task in [0, tasks) on the pool.
template <class Body>
void run_tasks(const Context& ctx, int64_t tasks, Body&& body) {
  if (tasks <= 0) return;
  ThreadPool::get().run(
      static_cast<int>(std::min<int64_t>(ctx.threads, tasks)), tasks,
      [](void* context, int64_t task) { (*static_cast<Body*>(context))(task); }, &body);
}

}  // namespace

void moe_experts(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& indices, const Tensor& weights,
                 const std::vector<MoeExpert>& experts) {
  expect_rank("x", x, 2);
  const int64_t n = x.shape[0], d = x.shape[1];
  expect_dtype("out", out, DType::f32);
  expect_shape("out", out, {n, d});
  expect_dtype("indices", indices, DType::i32);
  expect_rank("indices", indices, 2);
  const int64_t a = indices.shape[1];
  expect_shape("indices", indices, {n, a});
  expect_dtype("weights", weights, DType::f32);
  expect_shape("weights", weights, {n, a});
  const int64_t e_count = static_cast<int64_t>(experts.size());
  if (e_count == 0) fail("experts is empty");

  // Routing, grouped per expert: rows [first[e], first[e + 1]) belong to expert e.
  std::vector<int64_t> count(static_cast<size_t>(e_count + 1), 0);
  for (int64_t t = 0; t < n; t++)
    for (int64_t s = 0; s < a; s++) {
      int32_t e = *reinterpret_cast<const int32_t*>(indices.at(t * indices.strides[0] + s * indices.strides[1]));
      if (e < 0) continue;
      if (e >= e_count)
        fail("indices[" + std::to_string(t) + ", " + std::to_string(s) + "] = " + std::to_string(e) + ": router picked expert " +
             std::to_string(e) + " of " + std::to_string(e_count));
      count[e + 1]++;
    }
  std::vector<int64_t> first(static_cast<size_t>(e_count + 1), 0);
  for (int64_t e = 0; e < e_count; e++) first[e + 1] = first[e] + count[e + 1];
  const int64_t total = first[e_count];
  std::vector<int64_t> token(static_cast<size_t>(total));  // row → token
  std::vector<float> scale(static_cast<size_t>(total));    // row → routing weight
  {
    std::vector<int64_t> fill(first.begin(), first.end() - 1);
    for (int64_t t = 0; t < n; t++)
      for (int64_t s = 0; s < a; s++) {
        int32_t e = *reinterpret_cast<const int32_t*>(indices.at(t * indices.strides[0] + s * indices.strides[1]));
        if (e < 0) continue;
        const int64_t row = fill[e]++;
        token[row] = t;
        scale[row] = *reinterpret_cast<const float*>(weights.at(t * weights.strides[0] + s * weights.strides[1]));
      }
  }
  // Active experts, resolved and checked.
  std::vector<int64_t> active;
  for (int64_t e = 0; e < e_count; e++)
    if (first[e + 1] > first[e]) active.push_back(e);
  // I: the first active expert's gate rows; every active expert must match it.
  const Tensor& gate0 = experts[active.empty() ? 0 : active[0]].gate.weight;
  const int64_t inter = gate0.rank == 2 ? gate0.shape[0] : -1;
  // Resolved (a decode batch of 32 activates all 32 experts of `small`) into this thread's buffers, kept for the
  // next call; the tasks reach them through these references.
  thread_local std::vector<Projection> gate_buffer, up_buffer, down_buffer;
  const size_t active_size = active.size();
  if (gate_buffer.size() < active_size) {
    gate_buffer.resize(active_size);
    up_buffer.resize(active_size);
    down_buffer.resize(active_size);
  }
  std::vector<Projection>& gate = gate_buffer;
  std::vector<Projection>& up = up_buffer;
  std::vector<Projection>& down = down_buffer;
  const auto resolve = [&](int64_t i) {
    const MoeExpert& ex = experts[active[i]];
    const auto name = [e = active[i]](const char* which) {
      return [e, which] { return "experts[" + std::to_string(e) + "]." + which + ".weight"; };
    };
    resolve_projection(gate[i], ex.gate, inter, d, name("gate"));
    resolve_projection(up[i], ex.up, inter, d, name("up"));
    resolve_projection(down[i], ex.down, d, inter, name("down"));
  };
  // Unscaled experts resolve in a few checks each: on this thread, in order (small's 32 at a batch of 32: 3.0-3.2
  // µs per call, against 17-22 µs over the pool, its dispatch and the Projections' lines shared between cores).
  // Block-scaled ones list a scale pointer per row: over the pool. Either way the lowest bad expert is named.
  bool scaled = false;
  for (const int64_t e : active)
    scaled = scaled || experts[e].gate.has_scale || experts[e].up.has_scale || experts[e].down.has_scale;
  if (scaled)
    parallel_each_checked(ctx, static_cast<int64_t>(active_size), 4, resolve);
  else
    for (size_t i = 0; i < active_size; i++) resolve(static_cast<int64_t>(i));

  if (total == 0 || d == 0) {
    for (int64_t t = 0; t < n; t++) {
      float* o = out.ptr<float>() + t * out.strides[0];
      for (int64_t c = 0; c < d; c++) o[c * out.strides[1]] = 0.0f;
    }
    return;
  }
  const GemmKernels& kernels = gemm_for(ctx.isa);
  // One tile per thread: bigger tiles stream better (fewer restarts and prefetches past a tile end).
  const int64_t tiles_wanted = static_cast<int64_t>(ctx.threads);

  // gate, up and swiglu per (expert, column tile of I) into h [total, I]; each task gathers its
  // expert's rows of x and keeps gate/up of its tile in per-thread scratch.
  std::vector<float> h(static_cast<size_t>(total * inter));
  if (inter > 0) {
    const int64_t active_count = static_cast<int64_t>(active.size());
    // Prefill-sized experts (at least 32 rows each on average) split into at least 4 tiles, so that experts
    // of uneven row counts even out over the threads; decode keeps one tile per thread.
    int64_t parts = (tiles_wanted + active_count - 1) / active_count;
    if (total >= 32 * active_count) parts = std::max<int64_t>(parts, 4);
    const int64_t width = tile_width(inter, parts);
    const int64_t per_expert = (inter + width - 1) / width;
    run_tasks(ctx, active_count * per_expert, [&](int64_t task) {
      const size_t i = static_cast<size_t>(task / per_expert);
      const int64_t c0 = (task % per_expert) * width, c1 = std::min(inter, c0 + width), w = c1 - c0;
      const int64_t r0 = first[active[i]], m = first[active[i] + 1] - r0;
      float* xe = scratch<float, 0>(m * d);
      float* gs = scratch<float, 1>(m * w);
      float* us = scratch<float, 2>(m * w);
      for (int64_t r = 0; r < m; r++)
        load_row_f32(xe + r * d, x.at(token[r0 + r] * x.strides[0]), x.dtype, d, x.strides[1]);
      dot_gate_up(ctx, kernels, gate[i].gemm(xe, d, m, d, gs, w, c0), up[i].gemm(xe, d, m, d, us, w, c0), w);
      // As the swiglu kernel.
      for (int64_t r = 0; r < m; r++) swiglu_row(ctx.isa, gs + r * w, us + r * w, h.data() + (r0 + r) * inter + c0, w);
    });
  }

  // down per column tile of D: the tile of out is zeroed, then every active expert (ascending) adds
  // weight · down(h) of its rows (in token, slot order) as indexAdd does: out = f32(out + w · y).
  // out is written only here, after every read of x (out may alias x).
  const int64_t width = tile_width(d, tiles_wanted);
  run_tasks(ctx, (d + width - 1) / width, [&](int64_t task) {
    const int64_t c0 = task * width, c1 = std::min(d, c0 + width), w = c1 - c0;
    const int64_t so = out.strides[1];
    for (int64_t t = 0; t < n; t++) {
      float* o = out.ptr<float>() + t * out.strides[0] + c0 * so;
      for (int64_t c = 0; c < w; c++) o[c * so] = 0.0f;
    }
    if (inter == 0) return;
    for (size_t i = 0; i < active.size(); i++) {
      const int64_t r0 = first[active[i]], m = first[active[i] + 1] - r0;
      float* ys = scratch<float, 3>(m * w);
      dot(ctx, kernels, down[i].gemm(h.data() + r0 * inter, inter, m, inter, ys, w, c0), w);
      for (int64_t r = 0; r < m; r++) {
        float* o = out.ptr<float>() + token[r0 + r] * out.strides[0] + c0 * so;
        const double weight = scale[r0 + r];
        if (so == 1) {  // the same arithmetic, a vector at a time
          add_scaled_row(ctx.isa, o, ys + r * w, weight, w);
          continue;
        }
        for (int64_t c = 0; c < w; c++)
          o[c * so] = static_cast<float>(static_cast<double>(o[c * so]) + weight * static_cast<double>(ys[r * w + c]));
      }
    }
  });
}

}  // namespace dsa
