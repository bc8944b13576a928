// Every kernel the addon exports, one function each. Semantics are the reference backend's
// (backends/reference/src); the binding layer (addon.cc) decodes arguments and calls these.
// Arguments are checked on the calling thread before any work starts (KernelError); parallel work
// runs on the thread pool; every call returns when its results are in memory.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "tensor.h"

namespace dsa {

// Host copies of an AttentionBatch (packages/backend/src/attention-batch.ts).
struct BatchHost {
  const int32_t* positions;     // [S]
  const int32_t* sequence_ids;  // [S]
  const int32_t* block_table;   // [Q, max_blocks]
  int64_t count;                // S
  int64_t table_length;         // Q · max_blocks
  int64_t max_blocks;
  int64_t block_size;
  // Pool slot of logical position `position` of sequence row `sequence`; throws when unmapped. A power-of-two
  // block size (the runtime's 64) is taken apart by shifts: attention looks up every selected row (8192 per layer
  // for a batch of 32 at top-k 256), and the divisions cost about 30 µs per call.
  int64_t slot(int64_t sequence, int64_t position) const {
    if (block_size > 0 && (block_size & (block_size - 1)) == 0 && sequence >= 0 && position >= 0) {
      const int shift = __builtin_ctzll(static_cast<unsigned long long>(block_size));
      const int64_t block = position >> shift, entry = sequence * max_blocks + block;
      if (block < max_blocks && entry < table_length && block_table[entry] >= 0)
        return (static_cast<int64_t>(block_table[entry]) << shift) + (position & (block_size - 1));
    }
    return slot_by_division(sequence, position);
  }
  // slot() for any block size, and the error where the position is unmapped.
  int64_t slot_by_division(int64_t sequence, int64_t position) const;
};

struct SamplingRow {
  double temperature;
  double top_k;  // 0 disables
  double top_p;  // >= 1 disables
  double min_p;  // 0 disables
  uint32_t seed;
  uint32_t step;
  double repetition_penalty;  // 1 disables
  double frequency_penalty;   // 0 disables
  double presence_penalty;    // 0 disables
  std::vector<std::pair<double, double>> logit_bias;  // [token id, bias]
  bool has_history = false;
  Tensor history;  // i32 [>= history_length]: prompt then generated tokens
  int64_t history_length = 0;
  int64_t prompt_length = 0;
};

// Optional outputs of sample (SamplingOutputs): null when not asked for.
struct SamplingOutputs {
  const Tensor* logprobs = nullptr;      // f32 [B]
  const Tensor* top_ids = nullptr;       // i32 [B, N]
  const Tensor* top_logprobs = nullptr;  // f32 [B, N]
};

enum class UnaryOp : int { silu = 0, relu = 1, exp = 2, sigmoid = 3, neg = 4, sqrt = 5, reciprocal = 6 };
enum class BinaryOp : int { add = 0, sub = 1, mul = 2, div = 3, max = 4, min = 5 };

// elementwise.cc
void fill(const Context& ctx, const Tensor& out, double value);
void cast(const Context& ctx, const Tensor& out, const Tensor& x);
void copy(const Context& ctx, const Tensor& destination, const Tensor& source);
void unary(const Context& ctx, const Tensor& out, const Tensor& x, UnaryOp op);
void binary(const Context& ctx, const Tensor& out, const Tensor& a, const Tensor& b, BinaryOp op);
void swiglu(const Context& ctx, const Tensor& out, const Tensor& gate, const Tensor& up);

// gather.cc
void gather_rows(const Context& ctx, const Tensor& out, const Tensor& table, const Tensor& indices);
void scatter_rows(const Context& ctx, const Tensor& table, const Tensor& rows, const Tensor& indices);
void index_add(const Context& ctx, const Tensor& out, const Tensor& rows, const Tensor& indices, const Tensor* weights);
void gather_columns(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& indices, double fill);
void scatter_columns(const Context& ctx, const Tensor& out, const Tensor& indices, const Tensor* values, double value);

// linear.cc
// Per weight row n of a block-scaled weight [n, ·]: a pointer to its row of `scale` [⌈n / block_n⌉, cols]
// (f32 with unit column stride: read in place; else converted into `converted`). Shapes are the caller's check.
void block_scale_rows(const Tensor& scale, int64_t n, int64_t block_n, int64_t cols, std::vector<float>& converted,
                      std::vector<const float*>& rows);
void linear(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& weight, const Tensor* scale_inv,
            int64_t block_n, int64_t block_k);
// One LinearWeight: weight [N, K]; scale: its block scales (scaleInv) when f8_e4m3 or i8.
struct LinearWeightArgs {
  Tensor weight;
  bool has_scale = false;
  Tensor scale;
  int64_t block_n = 128;
  int64_t block_k = 128;
};
// One output of linears: out [M, N] = x · weightᵀ.
struct LinearPart {
  Tensor out;
  LinearWeightArgs weight;
};
// linears (FusedKernels.linears): every part's out = x · weightᵀ, as `linear` computes it (the same bits), in
// one pass of the thread pool over the rows of all the weights: one x conversion and one fork and join
// instead of one per weight, and each thread's rows run on into the next weight's.
void linears(const Context& ctx, const Tensor& x, const std::vector<LinearPart>& parts);
// matmul.cc
void matmul(const Context& ctx, const Tensor& out, const Tensor& a, const Tensor& b, bool transpose_b, double alpha);

// norm.cc
void rms_norm(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& weight, double eps);
void layer_norm(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& weight, const Tensor& bias,
                double eps);
void add_rms_norm(const Context& ctx, const Tensor& out, const Tensor& residual, const Tensor& x,
                  const Tensor& weight, double eps);

// rope.cc
void rope(const Context& ctx, const Tensor& x, const Tensor& positions, const Tensor& inv_freq, bool interleaved,
          double scale);

// softmax.cc
void softmax(const Context& ctx, const Tensor& x, double scale);
// reduce.cc
void reduce_sum(const Context& ctx, const Tensor& out, const Tensor& x);
// hadamard.cc
void hadamard(const Context& ctx, const Tensor& out, const Tensor& x);

// top-k.cc
void top_k(const Context& ctx, const Tensor& indices, const Tensor* values, const Tensor& x, int64_t k);
// The k best entries of row[0, n) (value desc, then index asc; -inf and NaN never chosen), written
// to `out` in ascending index order and padded with -1. `scratch` is reused between calls.
void select_top_k(const float* row, int64_t n, int64_t k, int32_t* out, std::vector<int32_t>& scratch);

// fp8.cc
void quantize_fp8(const Context& ctx, const Tensor& q, const Tensor& scale, const Tensor& x, int64_t block_size,
                  bool ue8m0);
void dequantize_fp8(const Context& ctx, const Tensor& out, const Tensor& q, const Tensor& scale, int64_t block_size);

// sample.cc
void sample(const Context& ctx, const Tensor& out, const Tensor& logits, const std::vector<SamplingRow>& rows,
            const SamplingOutputs& outputs);
// rngUniform of @dsa/backend: a number in (0, 1) from (seed, step, index).
double rng_uniform(uint32_t seed, uint32_t step, uint32_t index);

// attention.cc
// The MLA latent cache of one layer (LatentCache of @dsa/backend): one [slots, C+R] f32/bf16/f16 tensor
// `rows`, or DeepSeek's fp8 rows (Fp8LatentCache, `fp8` set): `rows` the e4m3 NoPE view [slots, C], `scales`
// its f32 block scales [slots, ceil(C / 128)] (powers of two), `rope` the bf16 RoPE view [slots, R]; the
// three views interleave in one buffer (row strides = the row's bytes).
struct LatentCache {
  Tensor rows;
  bool fp8 = false;
  Tensor scales;
  Tensor rope;
};
// NoPE values per scale block of an fp8 latent row (FP8_LATENT_BLOCK).
constexpr int64_t kFp8LatentBlock = 128;
void mla_attention(const Context& ctx, const Tensor& out, const Tensor& q, const LatentCache& cache,
                   const BatchHost& batch, const Tensor* indices, double scale);
// indexer.cc
void indexer_top_k(const Context& ctx, const Tensor& indices, const Tensor& q, const Tensor& weights,
                   const Tensor& keys, const Tensor* key_scales, const BatchHost& batch, int64_t k);

// moe.cc
struct MoeRouteOptions {
  int64_t groups;
  int64_t topk_groups;
  int64_t topk;
  double routed_scale;
  bool normalize;
  bool softmax;  // scoring: softmax (true) or sigmoid
};
void moe_route(const Context& ctx, const Tensor& indices, const Tensor& weights, const Tensor& logits,
               const Tensor* bias, const MoeRouteOptions& options);

// moe-experts.cc
// One routed expert (ExpertWeights): gate/up [I, D], down [D, I].
struct MoeExpert {
  LinearWeightArgs gate, up, down;
};
void moe_experts(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& indices, const Tensor& weights,
                 const std::vector<MoeExpert>& experts);

// rows.h helpers live in elementwise.cc
// Merges dimensions that are contiguous in every tensor and drops size-1 dimensions, so element-wise
// kernels see few, long rows. All tensors must have the same shape.
void coalesce(Tensor* const* tensors, int count);

}  // namespace dsa
