// Routed experts (FusedKernels.moeExperts) without host round trips, deterministic:
//   1. dsa_fused_moe_plan   (1 CTA)            tokens per expert, offsets, tiles of ≤ 16 rows per expert
//   2. dsa_fused_moe_order  (1 warp / expert)  order[offset[e] + r] = the r-th assignment (n·A + a) of
//                                              expert e, in assignment order (ballot scan: stable)
//   3. dsa_fused_moe_gate_up                    h[p, i] = silu(x[n_p] · gate_e[i]) · (x[n_p] · up_e[i])
//   4. dsa_fused_moe_down                       y[n·A + a, j] = h[p] · down_e[j]
//   5. dsa_fused_moe_combine                    out[n, j] = Σ_a weights[n, a] · y[n·A + a, j], a ascending
// Grouped GEMMs (3, 4) run one CTA per (8 output columns, tile) with the warp-per-column row-dot core
// (row-dot.cuh); a row's value never depends on which other rows share its tile, and step 5 sums in
// a fixed order without atomics, so a token's output is bit-identical alone or batched.
// v2 of steps 3 and 4 (dsa_fused_moe_gate_up2_* / _down2_*, below; the TS default for bf16/fp8
// experts with 16-aligned sizes) uses the streaming GEMV core of gemv-core.cuh with constant K splits.
// Expert weights come from a device table of ExpertPointers (one per expert); all experts share one
// weight dtype (f32, bf16, f8_e4m3 with block scales [block_n, block_k]).
#include "row-dot.cuh"

using namespace dsa_fused;

namespace {
constexpr int kTileRows = 16;
constexpr int kMaxPlanExperts = 1024;
}  // namespace

// Device layout of one expert's pointers (src/fused/moe-experts.ts writes it: 6 × u64).
struct ExpertPointers {
  const void* gate;
  const float* gate_scales;
  const void* up;
  const float* up_scales;
  const void* down;
  const float* down_scales;
};

// plan: offsets i32 [E + 1]; tiles i32 [1 + 3 · max_tiles] = {count, (expert, start, rows)...}.
extern "C" __global__ void __launch_bounds__(1024)
    dsa_fused_moe_plan(const int32_t* indices, int assignments, int experts, int32_t* offsets, int32_t* tiles) {
  __shared__ int32_t counts[kMaxPlanExperts];
  for (int e = threadIdx.x; e < experts; e += blockDim.x) counts[e] = 0;
  __syncthreads();
  for (int i = threadIdx.x; i < assignments; i += blockDim.x) {
    const int e = indices[i];
    if (e >= 0 && e < experts) atomicAdd(&counts[e], 1);
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int offset = 0, tile = 0;
    for (int e = 0; e < experts; e++) {
      offsets[e] = offset;
      for (int r = 0; r < counts[e]; r += kTileRows) {
        tiles[1 + 3 * tile] = e;
        tiles[2 + 3 * tile] = offset + r;
        tiles[3 + 3 * tile] = min(kTileRows, counts[e] - r);
        tile++;
      }
      offset += counts[e];
    }
    offsets[experts] = offset;
    tiles[0] = tile;
  }
}

extern "C" __global__ void dsa_fused_moe_order(const int32_t* indices, int assignments, int experts,
                                               const int32_t* offsets, int32_t* order) {
  const int e = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
  if (e >= experts) return;
  int at = offsets[e];
  for (int base = 0; base < assignments; base += 32) {
    const int i = base + lane;
    const bool mine = i < assignments && indices[i] == e;
    const uint32_t mask = __ballot_sync(0xffffffffu, mine);
    if (mine) order[at + __popc(mask & ((1u << lane) - 1u))] = i;
    at += __popc(mask);
  }
}

namespace {

template <int WT>
__device__ __forceinline__ const void* weight_row(const void* base, int64_t row, int k) {
  constexpr int64_t bytes = WT == kF32 ? 4 : WT == kBF16 ? 2 : 1;
  return static_cast<const char*>(base) + row * k * bytes;
}

template <int TM, int WT>
__device__ void gate_up_tile(float* xs, float* h, const void* x, int x_dtype, const int32_t* order, int topk, int start, int rows,
                             const ExpertPointers& ep, int block_n, int block_k, int hidden, int inter) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int column = blockIdx.x * kRowDotWarps + warp;
  const bool active = column < inter;
  const int c = active ? column : 0;
  const int scale_cols = (hidden + block_k - 1) / block_k;
  const void* grow = weight_row<WT>(ep.gate, c, hidden);
  const void* urow = weight_row<WT>(ep.up, c, hidden);
  const float* gs = WT == kF8E4M3 ? ep.gate_scales + static_cast<int64_t>(c / block_n) * scale_cols : nullptr;
  const float* us = WT == kF8E4M3 ? ep.up_scales + static_cast<int64_t>(c / block_n) * scale_cols : nullptr;
  const int xbytes = x_dtype == kF32 ? 4 : 2;
  float g[TM] = {}, u[TM] = {};
  for_each_staged_chunk<TM>(
      xs,
      [&](int r) {
        const int64_t token = order[start + r] / topk;
        return static_cast<const char*>(x) + token * hidden * xbytes;
      },
      x_dtype, rows, hidden,
      [&](int k0, int length) {
        if (active) {
          row_dot_chunk<TM, WT>(g, grow, gs, block_k, xs, k0, length, lane);
          row_dot_chunk<TM, WT>(u, urow, us, block_k, xs, k0, length, lane);
        }
      });
  warp_reduce_rows<TM>(g);
  warp_reduce_rows<TM>(u);
  if (active && lane == 0) {
#pragma unroll
    for (int r = 0; r < TM; r++)
      if (r < rows) h[static_cast<int64_t>(start + r) * inter + column] = g[r] / (1.0f + expf(-g[r])) * u[r];
  }
}

template <int TM, int WT>
__device__ void down_tile(float* xs, float* y, const float* h, const int32_t* order, int start, int rows, const ExpertPointers& ep,
                          int block_n, int block_k, int hidden, int inter) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int column = blockIdx.x * kRowDotWarps + warp;
  const bool active = column < hidden;
  const int c = active ? column : 0;
  const int scale_cols = (inter + block_k - 1) / block_k;
  const void* drow = weight_row<WT>(ep.down, c, inter);
  const float* ds = WT == kF8E4M3 ? ep.down_scales + static_cast<int64_t>(c / block_n) * scale_cols : nullptr;
  float acc[TM] = {};
  for_each_staged_chunk<TM>(
      xs, [&](int r) { return static_cast<const void*>(h + static_cast<int64_t>(start + r) * inter); }, kF32, rows,
      inter, [&](int k0, int length) {
        if (active) row_dot_chunk<TM, WT>(acc, drow, ds, block_k, xs, k0, length, lane);
      });
  warp_reduce_rows<TM>(acc);
  if (active && lane == 0) {
#pragma unroll
    for (int r = 0; r < TM; r++)
      if (r < rows) y[static_cast<int64_t>(order[start + r]) * hidden + column] = acc[r];
  }
}

}  // namespace

#define DSA_TM_DISPATCH(rows, CALL) \
  if (rows <= 1) {                  \
    CALL(1);                        \
  } else if (rows <= 2) {           \
    CALL(2);                        \
  } else if (rows <= 4) {           \
    CALL(4);                        \
  } else if (rows <= 8) {           \
    CALL(8);                        \
  } else {                          \
    CALL(16);                       \
  }

#define DSA_MOE_KERNELS(NAME, WT)                                                                                    \
  extern "C" __global__ void __launch_bounds__(256) dsa_fused_moe_gate_up_##NAME(                                   \
      float* h, const void* x, int x_dtype, const int32_t* order, const int32_t* tiles, int topk,                  \
      const ExpertPointers* table, int block_n, int block_k, int hidden, int inter) {                                \
    if (static_cast<int>(blockIdx.y) >= tiles[0]) return;                                                         \
    const int expert = tiles[1 + 3 * blockIdx.y], start = tiles[2 + 3 * blockIdx.y],                              \
              rows = tiles[3 + 3 * blockIdx.y];                                                                    \
    const ExpertPointers ep = table[expert];                                                                       \
    __shared__ __align__(16) float xs[kTileRows * kChunkK];                                                        \
    DSA_TM_DISPATCH(rows, DSA_GATE_UP_CALL)                                                                        \
  }                                                                                                                \
  extern "C" __global__ void __launch_bounds__(256) dsa_fused_moe_down_##NAME(                                      \
      float* y, const float* h, const int32_t* order, const int32_t* tiles, const ExpertPointers* table,           \
      int block_n, int block_k, int hidden, int inter) {                                                           \
    if (static_cast<int>(blockIdx.y) >= tiles[0]) return;                                                         \
    const int expert = tiles[1 + 3 * blockIdx.y], start = tiles[2 + 3 * blockIdx.y],                              \
              rows = tiles[3 + 3 * blockIdx.y];                                                                    \
    const ExpertPointers ep = table[expert];                                                                       \
    __shared__ __align__(16) float xs[kTileRows * kChunkK];                                                        \
    DSA_TM_DISPATCH(rows, DSA_DOWN_CALL)                                                                           \
  }

#define DSA_GATE_UP_CALL(TM) \
  gate_up_tile<TM, WEIGHT_TYPE>(xs, h, x, x_dtype, order, topk, start, rows, ep, block_n, block_k, hidden, inter)
#define DSA_DOWN_CALL(TM) down_tile<TM, WEIGHT_TYPE>(xs, y, h, order, start, rows, ep, block_n, block_k, hidden, inter)

#define WEIGHT_TYPE kF32
DSA_MOE_KERNELS(f32, kF32)
#undef WEIGHT_TYPE
#define WEIGHT_TYPE kBF16
DSA_MOE_KERNELS(bf16, kBF16)
#undef WEIGHT_TYPE
#define WEIGHT_TYPE kF8E4M3
DSA_MOE_KERNELS(f8, kF8E4M3)
#undef WEIGHT_TYPE

// ---- v2 grouped GEMMs (gemv-core.cuh): 16-byte streaming weight loads, 4 weight rows per warp ----
// dsa_fused_moe_gate_up2_<w>_<r2|r16>: a warp group owns 2 intermediate columns (their gate and up rows), split
// over kMoeGateUpSlices warps along hidden; CTA = 4 groups = 8 columns, grid (ceil(inter / 8), tiles).
// dsa_fused_moe_down2_<w>_<r2|r16>: a warp owns 4 hidden columns (kMoeDownSlices = 1), CTA = 32 columns, grid
// (ceil(hidden / 32), tiles). Same arguments as v1. Slices are constants (never depend on the batch).
// Requires hidden % 16 == 0, inter % 16 == 0, block_k % 16 == 0 (fp8), 16-byte aligned weights and x.
#include "gemv-core.cuh"

namespace {
constexpr int kMoeGateUpSlices = 2;
constexpr int kMoeDownSlices = 1;

template <int TM, int WT, int XT>
__device__ void gate_up_tile2(float* h, const void* x, const int32_t* order, int topk, int start, int rows,
                              const ExpertPointers& ep, int block_n, int block_k, int hidden, int inter) {
  __shared__ float red[kGemvWarps][TM * kGemvCols];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  constexpr int kGroups = kGemvWarps / kMoeGateUpSlices;
  const int group = warp / kMoeGateUpSlices, slice = warp % kMoeGateUpSlices;
  const int i0 = (blockIdx.x * kGroups + group) * 2;
  const int scale_cols = (hidden + block_k - 1) / block_k;
  const void* wrow[kGemvCols];
  const float* srow[kGemvCols];
#pragma unroll
  for (int c = 0; c < kGemvCols; c++) {
    const int col = min(i0 + (c & 1), inter - 1);
    wrow[c] = weight_row<WT>(c < 2 ? ep.gate : ep.up, col, hidden);
    srow[c] = is_fp8_weight(WT) ? (c < 2 ? ep.gate_scales : ep.up_scales) + static_cast<int64_t>(col / block_n) * scale_cols
                            : nullptr;
  }
  constexpr int64_t xbytes = XT == kF32 ? 4 : 2;
  const void* xrow[TM];
#pragma unroll
  for (int r = 0; r < TM; r++) {
    const int64_t token = order[start + (r < rows ? r : 0)] / topk;
    xrow[r] = static_cast<const char*>(x) + token * hidden * xbytes;
  }
  gemv_warp_to_shared<TM, WT, XT>(red[warp], wrow, srow, block_k, xrow, hidden, slice, kMoeGateUpSlices, lane);
  __syncthreads();
  for (int e = threadIdx.x; e < kGroups * TM * 2; e += blockDim.x) {
    const int g = e / (TM * 2), r = (e % (TM * 2)) / 2, p = e % 2;
    const int i = (blockIdx.x * kGroups + g) * 2 + p;
    if (r >= rows || i >= inter) continue;
    float gv = red[g * kMoeGateUpSlices][r * kGemvCols + p];
    float uv = red[g * kMoeGateUpSlices][r * kGemvCols + 2 + p];
    for (int s = 1; s < kMoeGateUpSlices; s++) {
      gv += red[g * kMoeGateUpSlices + s][r * kGemvCols + p];
      uv += red[g * kMoeGateUpSlices + s][r * kGemvCols + 2 + p];
    }
    h[static_cast<int64_t>(start + r) * inter + i] = gv / (1.0f + expf(-gv)) * uv;
  }
}

template <int TM, int WT>
__device__ void down_tile2(float* y, const float* h, const int32_t* order, int start, int rows, const ExpertPointers& ep,
                           int block_n, int block_k, int hidden, int inter) {
  __shared__ float red[kGemvWarps][TM * kGemvCols];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  constexpr int kGroups = kGemvWarps / kMoeDownSlices;
  const int group = warp / kMoeDownSlices, slice = warp % kMoeDownSlices;
  const int col0 = (blockIdx.x * kGroups + group) * kGemvCols;
  const int scale_cols = (inter + block_k - 1) / block_k;
  const void* wrow[kGemvCols];
  const float* srow[kGemvCols];
#pragma unroll
  for (int c = 0; c < kGemvCols; c++) {
    const int col = min(col0 + c, hidden - 1);
    wrow[c] = weight_row<WT>(ep.down, col, inter);
    srow[c] = is_fp8_weight(WT) ? ep.down_scales + static_cast<int64_t>(col / block_n) * scale_cols : nullptr;
  }
  const void* xrow[TM];
#pragma unroll
  for (int r = 0; r < TM; r++) xrow[r] = h + static_cast<int64_t>(start + (r < rows ? r : 0)) * inter;
  gemv_warp_to_shared<TM, WT, kF32>(red[warp], wrow, srow, block_k, xrow, inter, slice, kMoeDownSlices, lane);
  __syncthreads();
  sum_slices<TM, kGemvCols>(red, kGroups, kMoeDownSlices, rows, hidden, [&](int r, int col, float v) {
    y[static_cast<int64_t>(order[start + r]) * hidden + col] = v;
  });
}
}  // namespace

// Each GEMM is two kernels over the same grid: `_r2` takes the tiles of ≤ 2 rows (decode: few
// registers, full occupancy), `_r16` those of 3..16 rows; a CTA whose tile is the other's returns at once.
#define DSA_TM_SMALL(rows, CALL) \
  if (rows <= 1) {               \
    CALL(1);                     \
  } else {                       \
    CALL(2);                     \
  }
#define DSA_TM_LARGE(rows, CALL) \
  if (rows <= 4) {               \
    CALL(4);                     \
  } else if (rows <= 8) {        \
    CALL(8);                     \
  } else {                       \
    CALL(16);                    \
  }
#define DSA_MOE_KERNELS2(NAME, SUFFIX, DISPATCH, SMALL) DSA_MOE_KERNELS_V(2, NAME, SUFFIX, DISPATCH, SMALL)
#define DSA_MOE_KERNELS_V(V, NAME, SUFFIX, DISPATCH, SMALL)                                                        \
  extern "C" __global__ void __launch_bounds__(256) dsa_fused_moe_gate_up##V##_##NAME##SUFFIX(                        \
      float* h, const void* x, int x_dtype, const int32_t* order, const int32_t* tiles, int topk,                \
      const ExpertPointers* table, int block_n, int block_k, int hidden, int inter) {                              \
    if (static_cast<int>(blockIdx.y) >= tiles[0]) return;                                                       \
    const int expert = tiles[1 + 3 * blockIdx.y], start = tiles[2 + 3 * blockIdx.y],                            \
              rows = tiles[3 + 3 * blockIdx.y];                                                                  \
    if ((rows <= 2) != SMALL) return;                                                                            \
    const ExpertPointers ep = table[expert];                                                                     \
    if (x_dtype == kF32) {                                                                                       \
      DISPATCH(rows, DSA_GATE_UP2_F32)                                                                           \
    } else {                                                                                                     \
      DISPATCH(rows, DSA_GATE_UP2_BF16)                                                                          \
    }                                                                                                            \
  }                                                                                                              \
  extern "C" __global__ void __launch_bounds__(256) dsa_fused_moe_down##V##_##NAME##SUFFIX(                           \
      float* y, const float* h, const int32_t* order, const int32_t* tiles, const ExpertPointers* table,         \
      int block_n, int block_k, int hidden, int inter) {                                                         \
    if (static_cast<int>(blockIdx.y) >= tiles[0]) return;                                                       \
    const int expert = tiles[1 + 3 * blockIdx.y], start = tiles[2 + 3 * blockIdx.y],                            \
              rows = tiles[3 + 3 * blockIdx.y];                                                                  \
    if ((rows <= 2) != SMALL) return;                                                                            \
    const ExpertPointers ep = table[expert];                                                                     \
    DISPATCH(rows, DSA_DOWN2_CALL)                                                                               \
  }

#define DSA_GATE_UP2_F32(TM) \
  gate_up_tile2<TM, WEIGHT_TYPE, kF32>(h, x, order, topk, start, rows, ep, block_n, block_k, hidden, inter)
#define DSA_GATE_UP2_BF16(TM) \
  gate_up_tile2<TM, WEIGHT_TYPE, kBF16>(h, x, order, topk, start, rows, ep, block_n, block_k, hidden, inter)
#define DSA_DOWN2_CALL(TM) down_tile2<TM, WEIGHT_TYPE>(y, h, order, start, rows, ep, block_n, block_k, hidden, inter)

#define WEIGHT_TYPE kBF16
DSA_MOE_KERNELS2(bf16, _r2, DSA_TM_SMALL, true)
DSA_MOE_KERNELS2(bf16, _r16, DSA_TM_LARGE, false)
#undef WEIGHT_TYPE
#define WEIGHT_TYPE kF8E4M3
DSA_MOE_KERNELS2(f8, _r2, DSA_TM_SMALL, true)
DSA_MOE_KERNELS2(f8, _r16, DSA_TM_LARGE, false)
#undef WEIGHT_TYPE
// v3 (fp8 only): the same tiles through gemv_warp_f8v3 (gemv-core.cuh); dsa_fused_moe_gate_up3_f8_<r2|r16>,
// dsa_fused_moe_down3_f8_<r2|r16>, same grids and arguments as v2.
#define WEIGHT_TYPE kF8V3
DSA_MOE_KERNELS_V(3, f8, _r2, DSA_TM_SMALL, true)
DSA_MOE_KERNELS_V(3, f8, _r16, DSA_TM_LARGE, false)
#undef WEIGHT_TYPE

// out[n, j] = Σ_a weights[n, a] · y[n·A + a, j] over valid a (0 ≤ indices < experts), a ascending; out f32/bf16.
extern "C" __global__ void dsa_fused_moe_combine(void* out, int out_dtype, const float* y, const int32_t* indices,
                                                 const float* weights, int tokens, int topk, int hidden, int experts) {
  const int64_t total = static_cast<int64_t>(tokens) * hidden;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t n = e / hidden, j = e % hidden;
    float sum = 0;
    for (int a = 0; a < topk; a++) {
      const int64_t i = n * topk + a;
      if (indices[i] >= 0 && indices[i] < experts) sum = fmaf(weights[i], y[i * hidden + j], sum);
    }
    store_f32(out, out_dtype, e, sum);
  }
}
