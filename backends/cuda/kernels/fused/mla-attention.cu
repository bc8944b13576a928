// Absorbed MLA attention over the paged latent cache (FusedKernels.mlaAttention), decode and prefill:
// for query s and head h, over t in indices[s, :] (sparse, entries < 0 ignored) or 0..=positions[s] (dense):
//   logit[t] = scale · q[s, h, :] · cache[slot(t), :]        (width W = C + R)
//   out[s, h, :] = softmax(logit) · cache[slot(t), :C]       (zeros when no t is valid)
// One CTA (256 threads) per (query, group of 16 heads); keys in tiles of 32 with an online softmax,
// all in f32: q of the group in shared memory, each warp scores 4 keys of the tile (lanes stride the
// row, a 16-way transpose reduction), each thread then accumulates 16 heads × C/256 value columns.
// q [S, H, W] and cache [slots, W] f32 or bf16; out [S, H, C] f32 or bf16; C ≤ 512; dense rows.
// Dynamic shared memory: 16 · W · 4 bytes.
#include "fused-common.cuh"

using namespace dsa_fused;

namespace {
constexpr int kGroup = 16, kTile = 32, kThreads = 256, kMaxCols = 2;  // C ≤ 256 · kMaxCols

__device__ __forceinline__ float cache_at(const void* cache, int dtype, int64_t i) {
  return dtype == kF32 ? static_cast<const float*>(cache)[i]
                       : bf16_bits_to_f32(static_cast<const uint16_t*>(cache)[i]);
}
}  // namespace

extern "C" __global__ void __launch_bounds__(kThreads)
    dsa_fused_mla_attention(void* out, int out_dtype, const void* q, int q_dtype, const void* cache, int cache_dtype,
                            const int32_t* indices, int index_count, const int32_t* positions,
                            const int32_t* sequence_ids, const int32_t* block_table, int max_blocks, int block_size,
                            int heads, int width, int columns, float scale) {
  extern __shared__ float qs[];  // [kGroup][width]
  __shared__ float logits[kGroup][kTile];
  __shared__ float running_max[kGroup], running_sum[kGroup], rescale[kGroup];
  __shared__ int64_t tile_slot[kTile];
  const int s = blockIdx.x, h0 = blockIdx.y * kGroup;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int seq = sequence_ids[s];
  const int position = positions[s];
  const int count = indices != nullptr ? index_count : position + 1;
  for (int e = tid; e < kGroup * width; e += kThreads) {
    const int h = e / width, c = e % width;
    qs[e] = h0 + h < heads ? load_f32(q, q_dtype, (static_cast<int64_t>(s) * heads + h0 + h) * width + c) : 0.0f;
  }
  if (tid < kGroup) {
    running_max[tid] = -INFINITY;
    running_sum[tid] = 0;
  }
  float acc[kGroup][kMaxCols] = {};
  for (int j0 = 0; j0 < count; j0 += kTile) {
    if (tid < kTile) {
      const int j = j0 + tid;
      int64_t slot = -1;
      if (j < count) {
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
      const int64_t base = slot * width;
      for (int c = lane; c < width; c += 32) {
        const float k = cache_at(cache, cache_dtype, base + c);
#pragma unroll
        for (int h = 0; h < kGroup; h++) v[h] = fmaf(qs[h * width + c], k, v[h]);
      }
      // transpose reduction: after it, lane holds the sum of head (b4 b3 b2 b1) of its lane bits.
#pragma unroll
      for (int i = 0; i < 8; i++) {
        const bool upper = lane & 16;
        const float send = upper ? v[i] : v[i + 8];
        const float keep = upper ? v[i + 8] : v[i];
        v[i] = keep + __shfl_xor_sync(0xffffffffu, send, 16);
      }
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const bool upper = lane & 8;
        const float send = upper ? v[i] : v[i + 4];
        const float keep = upper ? v[i + 4] : v[i];
        v[i] = keep + __shfl_xor_sync(0xffffffffu, send, 8);
      }
#pragma unroll
      for (int i = 0; i < 2; i++) {
        const bool upper = lane & 4;
        const float send = upper ? v[i] : v[i + 2];
        const float keep = upper ? v[i + 2] : v[i];
        v[i] = keep + __shfl_xor_sync(0xffffffffu, send, 4);
      }
      {
        const bool upper = lane & 2;
        const float send = upper ? v[0] : v[1];
        const float keep = upper ? v[1] : v[0];
        v[0] = keep + __shfl_xor_sync(0xffffffffu, send, 2);
      }
      v[0] += __shfl_xor_sync(0xffffffffu, v[0], 1);
      const int head = ((lane >> 4) & 1) * 8 + ((lane >> 3) & 1) * 4 + ((lane >> 2) & 1) * 2 + ((lane >> 1) & 1);
      if ((lane & 1) == 0) logits[head][jj] = v[0] * scale;
    }
    __syncthreads();
    // online softmax: warp w updates heads 2w, 2w + 1; lane = key of the tile.
    for (int h = warp * 2; h < warp * 2 + 2; h++) {
      const float x = logits[h][lane];
      const float old_max = running_max[h];
      const float new_max = fmaxf(old_max, warp_max(x));
      float p = 0, alpha = 1;
      if (new_max != -INFINITY) {
        p = x == -INFINITY ? 0.0f : expf(x - new_max);
        alpha = old_max == -INFINITY ? 0.0f : expf(old_max - new_max);
      }
      const float sum = warp_sum(p);
      logits[h][lane] = p;
      __syncwarp();
      if (lane == 0) {
        running_max[h] = new_max;
        running_sum[h] = running_sum[h] * alpha + sum;
        rescale[h] = alpha;
      }
    }
    __syncthreads();
    // values: thread owns columns tid + 256 · x.
#pragma unroll
    for (int h = 0; h < kGroup; h++) {
      const float alpha = rescale[h];
#pragma unroll
      for (int x = 0; x < kMaxCols; x++) acc[h][x] *= alpha;
    }
    for (int jj = 0; jj < kTile; jj++) {
      const int64_t slot = tile_slot[jj];
      if (slot < 0) continue;
      float val[kMaxCols];
#pragma unroll
      for (int x = 0; x < kMaxCols; x++) {
        const int c = tid + kThreads * x;
        val[x] = c < columns ? cache_at(cache, cache_dtype, slot * width + c) : 0.0f;
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
#pragma unroll
  for (int h = 0; h < kGroup; h++) {
    if (h0 + h >= heads) break;
    const float l = running_sum[h];
    const float inv = l > 0 ? 1.0f / l : 0.0f;
#pragma unroll
    for (int x = 0; x < kMaxCols; x++) {
      const int c = tid + kThreads * x;
      if (c < columns)
        store_f32(out, out_dtype, (static_cast<int64_t>(s) * heads + h0 + h) * columns + c, acc[h][x] * inv);
    }
  }
}
