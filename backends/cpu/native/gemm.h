// The two GEMM shapes every heavy kernel reduces to, and one implementation of each per ISA.
// Only plain types here: the per-ISA files include this header and <immintrin.h>, nothing else.
#pragma once

#include <cstdint>

#include "dtype.h"

namespace dsa {

// "Dot" form, B given as rows of length K (linear weights [N, K], matmul with transposed b, attention
// scores against cached rows):
//   out[m, n] = alpha · Σ_k x[m, k] · W(n, k)   for m in [0, M), n in [n0, n1),
//   W(n, k) = row(n)[k] (dtype wdtype) · (wscale ? wscale[n][k / bk] : 1).
// x is f32 with row stride ldx; row(n) is weight row n: w[n] where w is given (any row order: gathered cache
// rows work), else w_base + n · w_stride (a weight tensor's rows as they lie, with no per-call pointer array);
// wdtype is f32, bf16, f16, f8_e4m3 or i8.
struct DotGemm {
  const float* x;
  int64_t ldx;
  int64_t M;
  int64_t K;
  const uint8_t* const* w;  // per row n: its pointer, or null (then w_base and w_stride)
  DType wdtype;
  const float* const* wscale;  // per row n: its row of block scales, or null
  int64_t bk;                  // block width of wscale along K
  float* out;
  int64_t ldo;
  float alpha;
  const uint8_t* w_base = nullptr;  // where w is null: row 0
  int64_t w_stride = 0;             // where w is null: bytes from one row to the next

  const uint8_t* row(int64_t n) const { return w != nullptr ? w[n] : w_base + n * w_stride; }
};

// "Axpy" form, B given as rows of length N (matmul b [K, N], attention values):
//   out[m, n] = alpha · Σ_k a[m, k] · b[k][n]   for m in [0, M), n in [n0, n1).
// a is f32 with row stride lda; b[k] points at row k (dtype bdtype: f32, bf16, f16 or f8_e4m3).
struct AxpyGemm {
  const float* a;
  int64_t lda;
  int64_t M;
  int64_t K;
  const uint8_t* const* b;
  DType bdtype;
  float* out;
  int64_t ldo;
  float alpha;
};

struct GemmKernels {
  const char* name;
  void (*dot)(const DotGemm& g, int64_t n0, int64_t n1);
  void (*axpy)(const AxpyGemm& g, int64_t n0, int64_t n1);
};

const GemmKernels& gemm_portable();
const GemmKernels& gemm_avx2();
const GemmKernels& gemm_avx512();
// The opt-in bf16 precision (AVX-512-BF16, gemm-avx512bf16.cc) of the dot form: x rounded to bf16, then
// out[m, n] = alpha · Σ_k xb[m, k] · W(n, k) by vdpbf16ps with f32 accumulation, for bf16 weights (read in
// place) and for block-scaled f8_e4m3 and i8 weights (bk a multiple of 32, M >= 8: widened exactly to
// bf16, each scale block summed apart and scaled once; below 8 rows by the streamed GEMV below). The same summation order for every M (within M >= 8 and within M < 8 for block-scaled
// weights), tile and thread split. bf16_dot_applies: whether g is of those kinds
// (else the ISA's f32 kernels run). to_bf16_avx512bf16 writes g's x rows (g.x,
// g.ldx, g.M) rounded to bf16 into out, bf16_x_row(g) elements per row, in the order the weights need;
// dot_bf16_avx512bf16 then reads them as xb (g.x is unused).
bool bf16_dot_applies(const DotGemm& g);
int64_t bf16_x_row(const DotGemm& g);
void to_bf16_avx512bf16(const DotGemm& g, uint16_t* out);
void dot_bf16_avx512bf16(const DotGemm& g, const uint16_t* xb, int64_t n0, int64_t n1);
// g's x rounded to bf16 (to_bf16_avx512bf16) into this thread's scratch, valid until its next call: for a task
// that rounds its own x (an expert's rows, a matmul item) rather than sharing one rounding per call.
const uint16_t* bf16_x_here(const DotGemm& g);
// The bf16 precision on AMX (gemm-amx-bf16.cc), where has_amx_bf16(): bf16 weights in place with K a multiple
// of 32, x rounded to bf16 as to_bf16_avx512bf16 writes it (g.K per row), by TDPBF16PS tiles. The same
// operations per output for every M, tile and thread split (other bits than the vdpbf16ps kernels).
// dot_bf16_avx512bf16 takes this path itself where amx_dot_applies(g).
// x's B tiles can be packed once per call and shared by threads and weights of the same x (same_bf16_x):
// amx_x_size(g) uint32 of buffer, amx_x_tiles(buffer) its 64-byte aligned start, amx_pack_x the groups of 16
// rows [group0, group1) into it (tasks on disjoint groups may run in parallel), dot_amx_packed the outputs
// [n0, n1) from it. amx_pack_x_here packs all of x into this thread's scratch (valid until its next call);
// dot_amx_bf16 is that and dot_amx_packed.
bool amx_dot_applies(const DotGemm& g);
void dot_amx_bf16(const DotGemm& g, const uint16_t* xb, int64_t n0, int64_t n1);
int64_t amx_x_size(const DotGemm& g);
uint32_t* amx_x_tiles(uint32_t* buffer);
void amx_pack_x(const DotGemm& g, const uint16_t* xb, uint32_t* packed, int64_t group0, int64_t group1);
void dot_amx_packed(const DotGemm& g, const uint32_t* packed, int64_t n0, int64_t n1);
const uint32_t* amx_pack_x_here(const DotGemm& g, const uint16_t* xb);
// The axpy form on AMX (matmul's b rows along N, bf16): a rounded to bf16 (zero-padded to K in 32s) against b's
// rows paired into B tiles per 16 columns; one TDPBF16PS chain per output over the K chunks in order, whatever
// M or the split of [n0, n1) (n0 a multiple of 16, or the start).
bool amx_axpy_applies(const AxpyGemm& g);
void axpy_amx_bf16(const AxpyGemm& g, int64_t n0, int64_t n1);
// Rows of x from which the bf16 precision widens block-scaled weights into lane-block panels; below it
// (decode), 8-bit weights take the streamed GEMV below.
constexpr int64_t kBf16LaneBlocksMinRows = 8;
// The bf16 precision's decode GEMV for 8-bit weights (gemm-stream8-avx512bf16.cc): f8_e4m3 and i8 (GGUF
// Q8_0), M < kBf16LaneBlocksMinRows, scale blocks of whole 64-chunks or (i8) 32 wide, AVX512-VBMI. Each 64
// weights widened exactly to bf16 in registers and multiplied with x rounded to bf16 (packed by
// stream8_pack_x, stream8_x_row(g) per row) by vdpbf16ps; each scale block summed apart and scaled once.
// The same operations per output for every M, tile and thread split. Reached through the bf16 entry
// points above, which dispatch to it.
bool stream8_bf16_applies(const DotGemm& g);
int64_t stream8_x_row(const DotGemm& g);
void stream8_pack_x(const DotGemm& g, uint16_t* out);
void dot_stream8_bf16(const DotGemm& g, const uint16_t* xb, int64_t n0, int64_t n1);
// The kernels for an ISA level (Isa), falling back to lower levels.
const GemmKernels& gemm_for(int isa);

}  // namespace dsa
