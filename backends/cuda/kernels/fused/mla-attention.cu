// Absorbed MLA attention over the paged latent cache (FusedKernels.mlaAttention), decode and prefill:
// for query s and head h, over t in indices[s, :] (sparse, entries < 0 ignored) or 0..=positions[s] (dense):
//   logit[t] = scale · q[s, h, :] · cache[slot(t), :]        (width W = C + R)
//   out[s, h, :] = softmax(logit) · cache[slot(t), :C]       (zeros when no t is valid)
// One CTA (256 threads) per (query, group of 16 heads[, split]); keys in tiles of 32 with an online
// softmax, all in f32: q of the group in shared memory, each warp scores 4 keys of the tile (lanes stride
// the row, a 16-way transpose reduction), each thread then accumulates 16 heads × C/256 value columns.
// q [S, H, W] f32 or bf16; out [S, H, C] f32 or bf16; C ≤ 512; dense rows. The cache rows come in one of
// two formats, each an entry point over the one templated body (mla_attention_body):
//   dsa_fused_mla_attention      cache [slots, W] f32 or bf16 (DenseRows)
//   dsa_fused_mla_attention_fp8  DeepSeek's fp8 rows of nope + 4·⌈nope/128⌉ + 2·(W − nope) bytes (656 for
//                                512 + 64): e4m3 NoPE, f32 power-of-two scales per 128 values, bf16 RoPE
//                                (Fp8Rows: dequantized as loaded, e4m3 · scale exact in f32); C ≤ nope.
// Dynamic shared memory: 16 · W · 4 bytes.
//
// Splits (flash-decoding): a query's `count` candidate keys are cut into chunks of mla_chunk(count) keys
// (≥ kMinChunk keys, ≤ kMaxSplits chunks; a function of the query's own count only). Each chunk gets
// its own online softmax (max m, sum l, unnormalized acc); chunks are merged in order with mla_merge.
// With gridDim.z == 1 one CTA walks the chunks and merges as it goes; with gridDim.z > 1 CTA z writes
// chunk z's (acc, m, l) to `part` / `part_ml` and dsa_fused_mla_combine merges them with the same
// arithmetic in the same order. Both give the same bits, so the launch shape (picked from the batch size
// to fill the GPU) never changes a query's result.
#include "fused-common.cuh"

using namespace dsa_fused;

namespace {
constexpr int kGroup = 16, kTile = 32, kThreads = 256, kMaxCols = 2;  // C ≤ 256 · kMaxCols
constexpr int kMinChunk = 64, kMaxSplits = 64;                          // src/fused/mla-attention.ts
constexpr int kLoadGroup = 3;  // cache values a lane loads before using them (576 = 6 groups of 3 · 32)
constexpr int kCombineThreads = 128;

__device__ __forceinline__ float cache_at(const void* cache, int dtype, int64_t i) {
  return dtype == kF32 ? static_cast<const float*>(cache)[i]
                       : bf16_bits_to_f32(static_cast<const uint16_t*>(cache)[i]);
}

// Cache rows [slots, width] of f32 or bf16 values: at(slot, c) is cache[slot · width + c] as f32.
struct DenseRows {
  const void* cache;
  int dtype, width;
  __device__ __forceinline__ float at(int64_t slot, int c) const {
    return cache_at(cache, dtype, slot * width + c);
  }
};

// DeepSeek's fp8 latent rows (Fp8LatentCache): per slot `row_bytes` = nope + 4·⌈nope/128⌉ + 2·(width − nope)
// bytes: e4m3 NoPE values, their f32 block scales (one per 128, powers of two), bf16 RoPE values.
// at(slot, c) is e4m3 · scale for c < nope, the bf16 value after that.
struct Fp8Rows {
  static constexpr int kBlock = 128;  // FP8_LATENT_BLOCK
  const uint8_t* cache;
  int nope, row_bytes, rope_offset;
  __device__ Fp8Rows(const uint8_t* rows, int nope_width, int width)
      : cache(rows), nope(nope_width), rope_offset(nope_width + 4 * ((nope_width + kBlock - 1) / kBlock)) {
    row_bytes = rope_offset + 2 * (width - nope_width);
  }
  __device__ __forceinline__ float at(int64_t slot, int c) const {
    const uint8_t* row = cache + slot * row_bytes;
    if (c < nope) return fp8_e4m3_to_f32(row[c]) * reinterpret_cast<const float*>(row + nope)[c / kBlock];
    return bf16_bits_to_f32(reinterpret_cast<const uint16_t*>(row + rope_offset)[c - nope]);
  }
};

// Keys per chunk for a query with `count` candidates: a multiple of kTile, ≥ kMinChunk, ≤ kMaxSplits chunks.
__device__ __forceinline__ int mla_chunk(int count) {
  const int even = (count + kMaxSplits - 1) / kMaxSplits;
  return max(kMinChunk, (even + kTile - 1) / kTile * kTile);
}

// Merge weights of a chunk with max `m` into a running state with max `running`: the new max, the
// factor for the running (acc, sum) and the factor for the chunk's. -inf marks an empty state.
struct MergeWeights {
  float max, old_factor, new_factor;
};
__device__ __forceinline__ MergeWeights mla_merge(float running, float m) {
  const float top = fmaxf(running, m);
  MergeWeights w;
  w.max = top;
  w.old_factor = running == -INFINITY ? 0.0f : expf(running - top);
  w.new_factor = m == -INFINITY ? 0.0f : expf(m - top);
  return w;
}
// running · old_factor + chunk · new_factor, rounded the same way wherever it is evaluated.
__device__ __forceinline__ float mla_blend(float running, float old_factor, float chunk, float new_factor) {
  return __fmaf_rn(chunk, new_factor, __fmul_rn(running, old_factor));
}

// One step of the scores' transpose reduction: v[0, 2·kHalf) of the lane's partial sums become v[0, kHalf),
// lanes with bit 2·kHalf set keeping the upper half of the heads and adding their xor partner's.
template <int kHalf>
__device__ __forceinline__ void transpose_halve(float (&v)[kGroup], int lane) {
#pragma unroll
  for (int i = 0; i < kHalf; i++) {
    const bool upper = lane & (2 * kHalf);
    const float send = upper ? v[i] : v[i + kHalf];
    const float keep = upper ? v[i + kHalf] : v[i];
    v[i] = keep + __shfl_xor_sync(0xffffffffu, send, 2 * kHalf);
  }
}
}  // namespace

// The kernel body over cache rows `rows` (DenseRows or Fp8Rows): see the file comment.
template <class Rows>
__device__ __forceinline__ void mla_attention_body(void* out, int out_dtype, const void* q, int q_dtype, const Rows rows,
                                                   const int32_t* indices, int index_count, const int32_t* positions,
                                                   const int32_t* sequence_ids, const int32_t* block_table,
                                                   int max_blocks, int block_size, int heads, int width, int columns,
                                                   float scale, float* part, float* part_ml) {
  extern __shared__ float qs[];  // [kGroup][width]
  __shared__ float logits[kGroup][kTile];
  __shared__ float running_max[kGroup], running_sum[kGroup], rescale[kGroup];
  __shared__ float merged_max[kGroup], merged_sum[kGroup], old_factor[kGroup], new_factor[kGroup];
  __shared__ int64_t tile_slot[kTile];
  const int s = blockIdx.x, h0 = blockIdx.y * kGroup;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int seq = sequence_ids[s];
  const int position = positions[s];
  const int count = indices != nullptr ? index_count : position + 1;
  const int chunk = mla_chunk(count);
  const int chunks = (count + chunk - 1) / chunk;
  const bool split = gridDim.z > 1;
  const int z_begin = split ? blockIdx.z : 0;
  const int z_end = split ? min(chunks, z_begin + 1) : chunks;
  if (z_begin >= z_end && split) return;  // this query has fewer chunks than the grid
  for (int e = tid; e < kGroup * width; e += kThreads) {
    const int h = e / width, c = e % width;
    qs[e] = h0 + h < heads ? load_f32(q, q_dtype, (static_cast<int64_t>(s) * heads + h0 + h) * width + c) : 0.0f;
  }
  if (tid < kGroup) {
    merged_max[tid] = -INFINITY;
    merged_sum[tid] = 0;
  }
  __syncthreads();
  float merged[kGroup][kMaxCols] = {};
  for (int z = z_begin; z < z_end; z++) {
    if (tid < kGroup) {
      running_max[tid] = -INFINITY;
      running_sum[tid] = 0;
    }
    float acc[kGroup][kMaxCols] = {};
    const int j_end = min(count, (z + 1) * chunk);
    for (int j0 = z * chunk; j0 < j_end; j0 += kTile) {
      if (tid < kTile) {
        const int j = j0 + tid;
        int64_t slot = -1;
        if (j < j_end) {
          const int t = indices != nullptr ? indices[static_cast<int64_t>(s) * index_count + j] : j;
          slot = slot_of(block_table, max_blocks, block_size, seq, t);
        }
        tile_slot[tid] = slot;
      }
      __syncthreads();
      // logits: warp w scores keys w, w + 8, w + 16, w + 24 of the tile for the 16 heads.
      for (int jj = warp; jj < kTile; jj += kThreads / 32) {
        const int64_t slot = tile_slot[jj];
        if (slot < 0) {
          if (lane < kGroup) logits[lane][jj] = -INFINITY;
          continue;
        }
        float v[kGroup] = {};
        // the lane's share of the row in groups of kLoadGroup independent loads, then their FMAs
        for (int c0 = lane; c0 < width; c0 += 32 * kLoadGroup) {
          float row[kLoadGroup];
#pragma unroll
          for (int i = 0; i < kLoadGroup; i++) {
            const int c = c0 + 32 * i;
            row[i] = c < width ? rows.at(slot, c) : 0.0f;
          }
#pragma unroll
          for (int i = 0; i < kLoadGroup; i++) {
            const int c = c0 + 32 * i;
            if (c >= width) break;
#pragma unroll
            for (int h = 0; h < kGroup; h++) v[h] = fmaf(qs[h * width + c], row[i], v[h]);
          }
        }
        // transpose reduction: after it, lane holds the sum of head (b4 b3 b2 b1) of its lane bits.
        transpose_halve<8>(v, lane);
        transpose_halve<4>(v, lane);
        transpose_halve<2>(v, lane);
        transpose_halve<1>(v, lane);
        v[0] += __shfl_xor_sync(0xffffffffu, v[0], 1);
        const int head = ((lane >> 4) & 1) * 8 + ((lane >> 3) & 1) * 4 + ((lane >> 2) & 1) * 2 + ((lane >> 1) & 1);
        if ((lane & 1) == 0) logits[head][jj] = v[0] * scale;
      }
      __syncthreads();
      // online softmax: warp w updates heads 2w, 2w + 1; lane = key of the tile.
      for (int h = warp * 2; h < warp * 2 + 2; h++) {
        const float x = logits[h][lane];
        const OnlineSoftmax step = online_softmax(x, running_max[h], warp_max(x));
        const float sum = warp_sum(step.p);
        logits[h][lane] = step.p;
        __syncwarp();
        if (lane == 0) online_softmax_commit(step, sum, running_max[h], running_sum[h], rescale[h]);
      }
      __syncthreads();
      // values: thread owns columns tid + 256 · x.
#pragma unroll
      for (int h = 0; h < kGroup; h++) {
        const float alpha = rescale[h];
#pragma unroll
        for (int x = 0; x < kMaxCols; x++) acc[h][x] *= alpha;
      }
#pragma unroll 4
      for (int jj = 0; jj < kTile; jj++) {
        const int64_t slot = tile_slot[jj];
        if (slot < 0) continue;
        float val[kMaxCols];
#pragma unroll
        for (int x = 0; x < kMaxCols; x++) {
          const int c = tid + kThreads * x;
          val[x] = c < columns ? rows.at(slot, c) : 0.0f;
        }
#pragma unroll
        for (int h = 0; h < kGroup; h++) {
          const float p = logits[h][jj];
#pragma unroll
          for (int x = 0; x < kMaxCols; x++) acc[h][x] = fmaf(p, val[x], acc[h][x]);
        }
      }
      __syncthreads();
    }
    __syncthreads();
    if (split) {
      // chunk z's state to the partials: part [S, H, Z, C], part_ml [S, H, Z, 2]
      const int zs = gridDim.z;
#pragma unroll
      for (int h = 0; h < kGroup; h++) {
        if (h0 + h >= heads) break;
        const int64_t row = (static_cast<int64_t>(s) * heads + h0 + h) * zs + z;
#pragma unroll
        for (int x = 0; x < kMaxCols; x++) {
          const int c = tid + kThreads * x;
          if (c < columns) part[row * columns + c] = acc[h][x];
        }
        if (tid == 0) {
          part_ml[2 * row] = running_max[h];
          part_ml[2 * row + 1] = running_sum[h];
        }
      }
      return;
    }
    // merge chunk z into the running state (the same arithmetic as dsa_fused_mla_combine)
    if (tid < kGroup) {
      const MergeWeights w = mla_merge(merged_max[tid], running_max[tid]);
      old_factor[tid] = w.old_factor;
      new_factor[tid] = w.new_factor;
      merged_max[tid] = w.max;
      merged_sum[tid] = mla_blend(merged_sum[tid], w.old_factor, running_sum[tid], w.new_factor);
    }
    __syncthreads();
#pragma unroll
    for (int h = 0; h < kGroup; h++) {
#pragma unroll
      for (int x = 0; x < kMaxCols; x++)
        merged[h][x] = mla_blend(merged[h][x], old_factor[h], acc[h][x], new_factor[h]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int h = 0; h < kGroup; h++) {
    if (h0 + h >= heads) break;
    const float l = merged_sum[h];
    const float inv = l > 0 ? 1.0f / l : 0.0f;
#pragma unroll
    for (int x = 0; x < kMaxCols; x++) {
      const int c = tid + kThreads * x;
      if (c < columns)
        store_f32(out, out_dtype, (static_cast<int64_t>(s) * heads + h0 + h) * columns + c,
                  __fmul_rn(merged[h][x], inv));
    }
  }
}

extern "C" __global__ void __launch_bounds__(kThreads, 2)
    dsa_fused_mla_attention(void* out, int out_dtype, const void* q, int q_dtype, const void* cache, int cache_dtype,
                            const int32_t* indices, int index_count, const int32_t* positions,
                            const int32_t* sequence_ids, const int32_t* block_table, int max_blocks, int block_size,
                            int heads, int width, int columns, float scale, float* part, float* part_ml) {
  mla_attention_body(out, out_dtype, q, q_dtype, DenseRows{cache, cache_dtype, width}, indices, index_count,
                     positions, sequence_ids, block_table, max_blocks, block_size, heads, width, columns, scale, part,
                     part_ml);
}

// The same over fp8 latent rows (`cache` u8 [slots, row bytes], `nope` NoPE values per row; C ≤ nope).
extern "C" __global__ void __launch_bounds__(kThreads, 2)
    dsa_fused_mla_attention_fp8(void* out, int out_dtype, const void* q, int q_dtype, const uint8_t* cache, int nope,
                                const int32_t* indices, int index_count, const int32_t* positions,
                                const int32_t* sequence_ids, const int32_t* block_table, int max_blocks,
                                int block_size, int heads, int width, int columns, float scale, float* part,
                                float* part_ml) {
  mla_attention_body(out, out_dtype, q, q_dtype, Fp8Rows(cache, nope, width), indices, index_count, positions,
                     sequence_ids, block_table, max_blocks, block_size, heads, width, columns, scale, part, part_ml);
}

// Merges the chunk states a split dsa_fused_mla_attention wrote (grid (S, H), kCombineThreads threads):
// out[s, h, :] = Σ_z acc_z · w_z / Σ_z l_z · w_z, merged in chunk order with mla_merge / mla_blend.
// `index_count` > 0: sparse (count = index_count), else dense (count = positions[s] + 1).
extern "C" __global__ void __launch_bounds__(kCombineThreads)
    dsa_fused_mla_combine(void* out, int out_dtype, const float* part, const float* part_ml,
                          const int32_t* positions, int index_count, int heads, int columns, int zs) {
  const int s = blockIdx.x, h = blockIdx.y;
  const int count = index_count > 0 ? index_count : positions[s] + 1;
  const int chunk = mla_chunk(count);
  const int chunks = min(zs, (count + chunk - 1) / chunk);
  const int64_t row0 = (static_cast<int64_t>(s) * heads + h) * zs;
  for (int c = threadIdx.x; c < columns; c += kCombineThreads) {
    float m = -INFINITY, l = 0.0f, a = 0.0f;
#pragma unroll 4
    for (int z = 0; z < chunks; z++) {
      const MergeWeights w = mla_merge(m, part_ml[2 * (row0 + z)]);
      m = w.max;
      l = mla_blend(l, w.old_factor, part_ml[2 * (row0 + z) + 1], w.new_factor);
      a = mla_blend(a, w.old_factor, part[(row0 + z) * columns + c], w.new_factor);
    }
    const float inv = l > 0 ? 1.0f / l : 0.0f;
    store_f32(out, out_dtype, (static_cast<int64_t>(s) * heads + h) * columns + c, __fmul_rn(a, inv));
  }
}
