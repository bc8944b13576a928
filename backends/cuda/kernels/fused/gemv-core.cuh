// Bandwidth-oriented GEMV core (v2) of the decode GEMV (gemv.cu, dsa_fused_gemv2_*) and the grouped
// expert GEMMs (moe-experts.cu, dsa_fused_moe_*2_*): one warp computes TM activation rows × kGemvCols
// weight rows (output columns) over a K slice.
//
// K is walked in steps of 512: in step t lane l owns k = 512·t + 16·l .. +15 and reads them with one
// 16-byte load per column (fp8) or two (bf16), streaming (L1 no-allocate), two steps in flight (TM ≤ 4). The
// activations are read straight from global memory (tiny, L1/L2-resident) as f32/bf16 and reused by all
// kGemvCols columns from registers. fp8 e4m3 is widened by bit moves (e4m3 bits → f32 bits scaled by
// 2^-120) and one multiply by scale·2^120, which applies the 128×128 block scale in the same op; the
// product is exactly fp8·scale rounded once (no FTZ in this build). NaN codes (0x7f/0xff) are not
// propagated (checkpoints have none).
//
// Determinism: warps split the steps of a row `slices` ways (step t → slice t % slices); the sum of an
// (activation row, column) pair is, per lane, a sequential fmaf chain over that lane's elements in k
// order, then a fixed xor-shuffle tree, then the slices added in slice order. None of it depends on TM,
// on the other rows or on which columns share a warp, so a token's value is bit-identical alone or
// batched as long as `slices` is a function of the weight shape only (gemv_slices / the MoE constants).
#pragma once
#include "fused-common.cuh"

namespace dsa_fused {

constexpr int kGemvCols = 4;     // output columns per warp
constexpr int kGemvStep = 512;   // k per warp step
constexpr int kGemvWarps = 8;    // warps per CTA (256 threads)

// 16-byte streaming load (read once: do not pollute L1).
__device__ __forceinline__ uint4 load_stream16(const void* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

// Raw weights of one lane's 16 elements of one column.
template <int WT>
struct Raw16 {
  uint4 v[WT == kF8E4M3 ? 1 : 2];
};

template <int WT>
__device__ __forceinline__ void load_raw16(Raw16<WT>& raw, const void* row, int k) {
  if constexpr (WT == kF8E4M3) {
    raw.v[0] = load_stream16(static_cast<const uint8_t*>(row) + k);
  } else {
    raw.v[0] = load_stream16(static_cast<const uint16_t*>(row) + k);
    raw.v[1] = load_stream16(static_cast<const uint16_t*>(row) + k + 8);
  }
}

__device__ __forceinline__ uint32_t quad_word(const uint4& v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

// The fp8 multipliers of one lane-step: normally mul = block scale · 2^120 and post = 1 (one rounding:
// exactly fp8 · scale rounded); for a scale ≥ 2^7 (mul would overflow) mul = 2^120 (exact) and
// post = scale.
struct Fp8Scale {
  float mul, post;
};
__device__ __forceinline__ Fp8Scale fp8_scale(const float* scale_row, int k, int block_k) {
  const float s = scale_row[k / block_k];
  if (fabsf(s) < 0x1p7f) return {s * 0x1p120f, 1.0f};
  return {0x1p120f, s};
}

// Elements 4q .. 4q+3 of a lane's 16 as f32 (fp8: times the block scale).
template <int WT>
__device__ __forceinline__ void widen4(const Raw16<WT>& raw, int q, Fp8Scale scale, float (&w)[4]) {
  if constexpr (WT == kF8E4M3) {
    const uint32_t v = quad_word(raw.v[0], q);
    w[0] = __uint_as_float(((v & 0x7fu) << 20) | ((v & 0x80u) << 24)) * scale.mul;
    w[1] = __uint_as_float(((v & 0x7f00u) << 12) | ((v & 0x8000u) << 16)) * scale.mul;
    w[2] = __uint_as_float(((v & 0x7f0000u) << 4) | ((v & 0x800000u) << 8)) * scale.mul;
    w[3] = __uint_as_float(((v & 0x7f000000u) >> 4) | (v & 0x80000000u)) * scale.mul;
    if (scale.post != 1.0f) {
#pragma unroll
      for (int i = 0; i < 4; i++) w[i] *= scale.post;
    }
  } else {
    const uint32_t a = quad_word(raw.v[q >> 1], (q & 1) * 2), b = quad_word(raw.v[q >> 1], (q & 1) * 2 + 1);
    w[0] = __uint_as_float(a << 16);
    w[1] = __uint_as_float(a & 0xffff0000u);
    w[2] = __uint_as_float(b << 16);
    w[3] = __uint_as_float(b & 0xffff0000u);
  }
}

// Activations k .. k+3 of one row (f32 or bf16, 16-byte aligned rows).
template <int XT>
__device__ __forceinline__ float4 load_x4(const void* row, int k) {
  if constexpr (XT == kF32) return __ldg(reinterpret_cast<const float4*>(static_cast<const float*>(row) + k));
  const uint2 v = __ldg(reinterpret_cast<const uint2*>(static_cast<const uint16_t*>(row) + k));
  return make_float4(__uint_as_float(v.x << 16), __uint_as_float(v.x & 0xffff0000u), __uint_as_float(v.y << 16),
                     __uint_as_float(v.y & 0xffff0000u));
}

// acc + w · x over 4 consecutive k, as an fmaf chain in k order.
__device__ __forceinline__ float fma4(const float (&w)[4], float4 x, float acc) {
  acc = fmaf(w[0], x.x, acc);
  acc = fmaf(w[1], x.y, acc);
  acc = fmaf(w[2], x.z, acc);
  return fmaf(w[3], x.w, acc);
}

template <int TM, int WT, int XT>
__device__ __forceinline__ void gemv_step_compute(float (&acc)[TM][kGemvCols], const Raw16<WT> (&raw)[kGemvCols],
                                                  const Fp8Scale (&scale)[kGemvCols], const void* const (&xrow)[TM],
                                                  int k) {
#pragma unroll
  for (int q = 0; q < 4; q++) {
    float w[kGemvCols][4];
#pragma unroll
    for (int c = 0; c < kGemvCols; c++) widen4<WT>(raw[c], q, scale[c], w[c]);
#pragma unroll
    for (int r = 0; r < TM; r++) {
      const float4 x = load_x4<XT>(xrow[r], k + 4 * q);
#pragma unroll
      for (int c = 0; c < kGemvCols; c++) acc[r][c] = fma4(w[c], x, acc[r][c]);
    }
  }
}

// Per-lane partial sums of one warp: acc[r][c] += Σ over this slice's steps of x[r][k] · W_c[k].
// wrow[c]: weight row of column c (element 0 = k 0); srow[c]: its block-scale row (fp8 only).
// Requires K % 16 == 0, block_k % 16 == 0, 16-byte aligned rows.
template <int TM, int WT, int XT>
__device__ __forceinline__ void gemv_warp(float (&acc)[TM][kGemvCols], const void* const (&wrow)[kGemvCols],
                                          const float* const (&srow)[kGemvCols], int block_k,
                                          const void* const (&xrow)[TM], int K, int slice, int slices, int lane);

// The v3 fp8 loop; defined below.
template <int TM, int XT>
__device__ __forceinline__ void gemv_warp_f8v3(float (&acc)[TM][kGemvCols], const void* const (&wrow)[kGemvCols],
                                               const float* const (&srow)[kGemvCols], int block_k,
                                               const void* const (&xrow)[TM], int K, int slice, int slices,
                                               int lane);

template <int TM, int WT, int XT>
__device__ __forceinline__ void gemv_warp(float (&acc)[TM][kGemvCols], const void* const (&wrow)[kGemvCols],
                                          const float* const (&srow)[kGemvCols], int block_k,
                                          const void* const (&xrow)[TM], int K, int slice, int slices, int lane) {
  if constexpr (WT == 4) {  // kF8V3
    gemv_warp_f8v3<TM, XT>(acc, wrow, srow, block_k, xrow, K, slice, slices, lane);
    return;
  } else {
  const int steps = (K + kGemvStep - 1) / kGemvStep;
  constexpr int kInFlight = TM >= 8 ? 1 : 2;  // steps loaded before computing (registers allow 2 up to TM 4)
  for (int t = slice; t < steps; t += kInFlight * slices) {
    const int ka = t * kGemvStep + lane * 16, tb = t + slices, kb = tb * kGemvStep + lane * 16;
    const bool a = ka < K, b = kInFlight > 1 && tb < steps && kb < K;
    Raw16<WT> ra[kGemvCols], rb[kGemvCols];
    Fp8Scale sa[kGemvCols], sb[kGemvCols];
#pragma unroll
    for (int c = 0; c < kGemvCols; c++) {
      sa[c] = sb[c] = Fp8Scale{1.0f, 1.0f};
      if (a) load_raw16<WT>(ra[c], wrow[c], ka);
      if (b) load_raw16<WT>(rb[c], wrow[c], kb);
    }
    if constexpr (WT == kF8E4M3) {
#pragma unroll
      for (int c = 0; c < kGemvCols; c++) {
        if (a) sa[c] = fp8_scale(srow[c], ka, block_k);
        if (b) sb[c] = fp8_scale(srow[c], kb, block_k);
      }
    }
    if (a) gemv_step_compute<TM, WT, XT>(acc, ra, sa, xrow, ka);
    if (b) gemv_step_compute<TM, WT, XT>(acc, rb, sb, xrow, kb);
  }
  }
}

// ---- v3 fp8 loop (weight-type tag kF8V3): fewer instructions per weight byte, 2 × F steps in flight ----
// Per lane-step and column: the 16 e4m3 bytes are widened exactly (cvt.rn.f16x2.e4m3x2 on sm_89+, bit moves
// before), p = Σ16 w·x as an fmaf chain in k order from 0 (unscaled), then acc = fmaf(p, block scale, acc):
// one scale multiply per 16 weights instead of one per weight. The loads of the next F steps are issued
// before the current F are computed (two register buffers). Steps are still accumulated in ascending
// order per lane, and nothing depends on TM (F may: it only changes when loads are issued).
constexpr int kF8V3 = 4;  // internal weight-type tag (never a dtype code): fp8 e4m3 read by the v3 loop

__host__ __device__ constexpr bool is_fp8_weight(int wt) { return wt == kF8E4M3 || wt == kF8V3; }

// Bytes b0..b3 of v (e4m3) → exact f32 values.
__device__ __forceinline__ void fp8x4_to_f32(uint32_t v, float (&w)[4]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  uint32_t lo, hi;
  asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(lo) : "h"(static_cast<unsigned short>(v & 0xffffu)));
  asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(hi) : "h"(static_cast<unsigned short>(v >> 16)));
  constexpr float kUnit = 1.0f;
#else
  // e4m3 byte b → f16 bits (b & 0x80) << 8 | (b & 0x7f) << 7: the value · 2^-8, subnormals included.
  const uint32_t t0 = __byte_perm(v, 0u, 0x1404u), t1 = __byte_perm(v, 0u, 0x3424u);
  const uint32_t lo = ((t0 >> 1) & 0x3f803f80u) | (t0 & 0x80008000u);
  const uint32_t hi = ((t1 >> 1) & 0x3f803f80u) | (t1 & 0x80008000u);
  constexpr float kUnit = 256.0f;  // exact power of two: same f32 values as the hardware conversion
#endif
  __half2 h0, h1;
  memcpy(&h0, &lo, 4);
  memcpy(&h1, &hi, 4);
  const float2 a = __half22float2(h0), b = __half22float2(h1);
  w[0] = a.x * kUnit;
  w[1] = a.y * kUnit;
  w[2] = b.x * kUnit;
  w[3] = b.y * kUnit;
}

template <int TM, int XT>
__device__ __forceinline__ void f8v3_step(float (&acc)[TM][kGemvCols], const uint4 (&raw)[kGemvCols],
                                          const float (&scale)[kGemvCols], const void* const (&xrow)[TM], int k) {
  // rows in blocks (TM 16: 4 rows, fewer live registers; weights widened once per block; same sums)
  constexpr int RB = TM > 8 ? 4 : TM;
#pragma unroll
  for (int r0 = 0; r0 < TM; r0 += RB) {
    float p[RB][kGemvCols];
#pragma unroll
    for (int r = 0; r < RB; r++)
#pragma unroll
      for (int c = 0; c < kGemvCols; c++) p[r][c] = 0.0f;
#pragma unroll
    for (int q = 0; q < 4; q++) {
      float w[kGemvCols][4];
#pragma unroll
      for (int c = 0; c < kGemvCols; c++) fp8x4_to_f32(quad_word(raw[c], q), w[c]);
#pragma unroll
      for (int r = 0; r < RB; r++) {
        const float4 x = load_x4<XT>(xrow[r0 + r], k + 4 * q);
#pragma unroll
        for (int c = 0; c < kGemvCols; c++) p[r][c] = fma4(w[c], x, p[r][c]);
      }
    }
#pragma unroll
    for (int r = 0; r < RB; r++)
#pragma unroll
      for (int c = 0; c < kGemvCols; c++) acc[r0 + r][c] = fmaf(p[r][c], scale[c], acc[r0 + r][c]);
  }
}

template <int F>
struct F8Steps {
  uint4 raw[F][kGemvCols];
  float scale[F][kGemvCols];
};

// Loads steps t, t + slices, .. (F of them) of this lane; out-of-range steps are skipped.
template <int F>
__device__ __forceinline__ void f8v3_load(F8Steps<F>& b, const void* const (&wrow)[kGemvCols],
                                          const float* const (&srow)[kGemvCols], int block_k, int K, int t,
                                          int slices, int lane) {
#pragma unroll
  for (int f = 0; f < F; f++) {
    const int k = (t + f * slices) * kGemvStep + lane * 16;
    if (k < K) {
#pragma unroll
      for (int c = 0; c < kGemvCols; c++) b.raw[f][c] = load_stream16(static_cast<const uint8_t*>(wrow[c]) + k);
      const int kb = k / block_k;
#pragma unroll
      for (int c = 0; c < kGemvCols; c++) b.scale[f][c] = __ldg(srow[c] + kb);
    }
  }
}

template <int TM, int XT, int F>
__device__ __forceinline__ void f8v3_compute(float (&acc)[TM][kGemvCols], const F8Steps<F>& b,
                                             const void* const (&xrow)[TM], int K, int t, int slices, int lane) {
#pragma unroll
  for (int f = 0; f < F; f++) {
    const int k = (t + f * slices) * kGemvStep + lane * 16;
    if (k < K) f8v3_step<TM, XT>(acc, b.raw[f], b.scale[f], xrow, k);
  }
}

template <int TM, int XT>
__device__ __forceinline__ void gemv_warp_f8v3(float (&acc)[TM][kGemvCols], const void* const (&wrow)[kGemvCols],
                                               const float* const (&srow)[kGemvCols], int block_k,
                                               const void* const (&xrow)[TM], int K, int slice, int slices,
                                               int lane) {
  constexpr int F = TM == 1 ? 2 : 1;  // steps per register buffer (two buffers; 128 registers at TM 2)
  const int steps = (K + kGemvStep - 1) / kGemvStep;
  F8Steps<F> a, b;
  f8v3_load<F>(a, wrow, srow, block_k, K, slice, slices, lane);
  for (int t = slice; t < steps; t += 2 * F * slices) {
    f8v3_load<F>(b, wrow, srow, block_k, K, t + F * slices, slices, lane);
    f8v3_compute<TM, XT, F>(acc, a, xrow, K, t, slices, lane);
    f8v3_load<F>(a, wrow, srow, block_k, K, t + 2 * F * slices, slices, lane);
    f8v3_compute<TM, XT, F>(acc, b, xrow, K, t + F * slices, slices, lane);
  }
}

// Fixed xor-tree warp sum of every accumulator (all lanes get the totals).
template <int TM>
__device__ __forceinline__ void gemv_warp_reduce(float (&acc)[TM][kGemvCols]) {
#pragma unroll
  for (int r = 0; r < TM; r++)
#pragma unroll
    for (int c = 0; c < kGemvCols; c++) acc[r][c] = warp_sum(acc[r][c]);
}

// One warp's slice of a column group, summed over the warp, into `red_row` (lane 0 writes TM · kGemvCols
// totals, row-major [TM][kGemvCols]): the step every GEMV-shaped kernel ends with before the CTA sums slices.
template <int TM, int WT, int XT>
__device__ __forceinline__ void gemv_warp_to_shared(float* red_row, const void* const (&wrow)[kGemvCols],
                                                    const float* const (&srow)[kGemvCols], int block_k,
                                                    const void* const (&xrow)[TM], int K, int slice, int slices,
                                                    int lane) {
  float acc[TM][kGemvCols];
#pragma unroll
  for (int r = 0; r < TM; r++)
#pragma unroll
    for (int c = 0; c < kGemvCols; c++) acc[r][c] = 0.0f;
  gemv_warp<TM, WT, XT>(acc, wrow, srow, block_k, xrow, K, slice, slices, lane);
  gemv_warp_reduce<TM>(acc);
  if (lane == 0) {
#pragma unroll
    for (int r = 0; r < TM; r++)
#pragma unroll
      for (int c = 0; c < kGemvCols; c++) red_row[r * kGemvCols + c] = acc[r][c];
  }
}

// The CTA's sum over K slices once every warp has written its totals (gemv_warp_to_shared or alike): for each
// of the groups_per_cta · kRows · kCols results (group g, j = row r · kCols + column c), the slices' values
// red[g · slices + s][j] added in slice order, passed to store(r, column, v) unless r ≥ m or column ≥ n
// (column = (blockIdx.x · groups_per_cta + g) · kCols + c). Call after a __syncthreads.
template <int kRows, int kCols, class Store>
__device__ __forceinline__ void sum_slices(const float (*red)[kRows * kCols], int groups_per_cta, int slices, int m,
                                           int n, Store store) {
  for (int i = threadIdx.x; i < groups_per_cta * kRows * kCols; i += blockDim.x) {
    const int g = i / (kRows * kCols), j = i % (kRows * kCols), r = j / kCols;
    const int col = (blockIdx.x * groups_per_cta + g) * kCols + j % kCols;
    if (r >= m || col >= n) continue;
    float v = red[g * slices][j];
    for (int s = 1; s < slices; s++) v += red[g * slices + s][j];
    store(r, col, v);
  }
}

// K slices per output column group for an [N, K] weight: a function of the shape only (determinism).
__host__ __device__ inline int gemv_slices(int n, int k) {
  const int steps = (k + kGemvStep - 1) / kGemvStep, groups = (n + kGemvCols - 1) / kGemvCols;
  int s = 1;
  while (s < kGemvWarps && groups * s < 8192 && 2 * s <= steps) s *= 2;
  return s;
}

}  // namespace dsa_fused
