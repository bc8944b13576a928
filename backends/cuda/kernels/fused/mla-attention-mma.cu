// Tensor-core variant of the absorbed MLA attention (FusedKernels.mlaAttention) for a bf16 latent
// cache: bf16 mma.sync m16n8k16 with f32 accumulation, the FlashMLA recipe on sm_80+.
// One CTA (8 warps) per (query, group of 16 heads); keys in tiles of 16:
//   K tile [16 keys, W] bf16 -> shared memory (rows of invalid keys zeroed)
//   S [16 heads, 16 keys] = Q · Kᵀ: warp w owns k-steps w, w+8, ... (Q fragments in registers, q
//     rounded to bf16), partial sums reduced over warps in a fixed order, times scale
//   online softmax per head (half-warp per head), P rounded to bf16, running max/sum in f32
//   O [16 heads, C] += P · K[:, :C]: warp w owns column tiles w, w+8, ... of 8 columns
// q [S, H, W] f32 or bf16 (rounded to bf16), cache [slots, W] bf16, out [S, H, C] f32 or bf16;
// W % 16 == 0, W ≤ 640, C % 8 == 0, C ≤ 512. Dynamic shared memory: 16 · (W + 8) · 2 bytes.
#include "fused-common.cuh"

using namespace dsa_fused;

namespace {
constexpr int kMmaHeads = 16, kMmaKeys = 16, kMmaWarps = 8, kMaxKSteps = 5, kMaxColumnTiles = 8, kPPad = 24;
constexpr int kMaxTileChunks = 5;  // 16-byte chunks per thread per tile: W ≤ 5 · 256 · 8 / 16 = 640

__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  return static_cast<uint32_t>(f32_to_bf16_bits(lo)) | (static_cast<uint32_t>(f32_to_bf16_bits(hi)) << 16);
}

__device__ __forceinline__ void mma_m16n8k16_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
}  // namespace

extern "C" __global__ void __launch_bounds__(256)
    dsa_fused_mla_attention_mma(void* out, int out_dtype, const void* q, int q_dtype, const uint16_t* cache,
                                const int32_t* indices, int index_count, const int32_t* positions,
                                const int32_t* sequence_ids, const int32_t* block_table, int max_blocks,
                                int block_size, int heads, int width, int columns, float scale) {
  extern __shared__ __align__(16) uint16_t keys[];  // [kMmaKeys][width + 8]
  __shared__ float partial[kMmaWarps][kMmaHeads][kMmaKeys];
  __shared__ __align__(16) uint16_t probs[kMmaHeads][kPPad];
  __shared__ float running_max[kMmaHeads], running_sum[kMmaHeads], rescale[kMmaHeads];
  __shared__ int64_t tile_slot[kMmaKeys];
  const int s = blockIdx.x, h0 = blockIdx.y * kMmaHeads;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
  const int stride = width + 8;  // padded row: conflict-free fragment loads
  const int seq = sequence_ids[s];
  const int count = indices != nullptr ? index_count : positions[s] + 1;
  const int ksteps = width / 16;

  // Q fragments of this warp's k-steps (rows g and g + 8 of the head group).
  uint32_t qa[kMaxKSteps][4];
#pragma unroll
  for (int i = 0; i < kMaxKSteps; i++) {
    const int ks = warp + kMmaWarps * i;
#pragma unroll
    for (int r = 0; r < 4; r++) {
      const int head = h0 + g + ((r & 1) ? 8 : 0);
      const int col = ks * 16 + 2 * t + ((r & 2) ? 8 : 0);
      float lo = 0, hi = 0;
      if (ks < ksteps && head < heads) {
        const int64_t at = (static_cast<int64_t>(s) * heads + head) * width + col;
        lo = load_f32(q, q_dtype, at);
        hi = load_f32(q, q_dtype, at + 1);
      }
      qa[i][r] = pack_bf16x2(lo, hi);
    }
  }
  float o[kMaxColumnTiles][4] = {};
  if (tid < kMmaHeads) {
    running_max[tid] = -INFINITY;
    running_sum[tid] = 0;
  }
  const int chunks = width / 8;  // 16-byte chunks per key row
  // Slot of tile entry j (-1: past the end, a -1 index, or an unmapped position).
  auto slot_for = [&](int j) -> int64_t {
    if (j >= count) return -1;
    const int pos = indices != nullptr ? indices[static_cast<int64_t>(s) * index_count + j] : j;
    return slot_of(block_table, max_blocks, block_size, seq, pos);
  };
  // Register prefetch of a tile's 16-byte chunks (chunk e = thread + 256 · c): the next tile's loads
  // are in flight while the current one is computed.
  uint4 pre[kMaxTileChunks];
  auto load_tile = [&](int j0) {
#pragma unroll
    for (int c = 0; c < kMaxTileChunks; c++) {
      const int e = tid + 256 * c;
      pre[c] = make_uint4(0, 0, 0, 0);
      if (e < kMmaKeys * chunks) {
        const int64_t slot = slot_for(j0 + e / chunks);
        if (slot >= 0) pre[c] = *reinterpret_cast<const uint4*>(cache + slot * width + (e % chunks) * 8);
      }
    }
  };
  if (count > 0) load_tile(0);
  for (int j0 = 0; j0 < count; j0 += kMmaKeys) {
    if (tid < kMmaKeys) tile_slot[tid] = slot_for(j0 + tid);
#pragma unroll
    for (int c = 0; c < kMaxTileChunks; c++) {
      const int e = tid + 256 * c;
      if (e < kMmaKeys * chunks) *reinterpret_cast<uint4*>(keys + (e / chunks) * stride + (e % chunks) * 8) = pre[c];
    }
    __syncthreads();
    if (j0 + kMmaKeys < count) load_tile(j0 + kMmaKeys);
    // S partials over this warp's k-steps, two n-tiles of 8 keys.
    float sc[2][4] = {};
#pragma unroll
    for (int i = 0; i < kMaxKSteps; i++) {
      const int ks = warp + kMmaWarps * i;
      if (ks < ksteps) {
#pragma unroll
        for (int nt = 0; nt < 2; nt++) {
          const uint16_t* krow = keys + (nt * 8 + g) * stride + ks * 16 + 2 * t;
          const uint32_t b0 = *reinterpret_cast<const uint32_t*>(krow);
          const uint32_t b1 = *reinterpret_cast<const uint32_t*>(krow + 8);
          mma_m16n8k16_bf16(sc[nt], qa[i], b0, b1);
        }
      }
    }
#pragma unroll
    for (int nt = 0; nt < 2; nt++) {
      partial[warp][g][nt * 8 + 2 * t] = sc[nt][0];
      partial[warp][g][nt * 8 + 2 * t + 1] = sc[nt][1];
      partial[warp][g + 8][nt * 8 + 2 * t] = sc[nt][2];
      partial[warp][g + 8][nt * 8 + 2 * t + 1] = sc[nt][3];
    }
    __syncthreads();
    {
      // thread -> (head row, key col); a half-warp holds one head's 16 keys.
      const int row = tid >> 4, col = tid & 15;
      float x = 0;
#pragma unroll
      for (int w = 0; w < kMmaWarps; w++) x += partial[w][row][col];
      x = tile_slot[col] >= 0 ? x * scale : -INFINITY;
      float m = x;
#pragma unroll
      for (int off = 8; off > 0; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
      const float old_max = running_max[row];
      const float new_max = fmaxf(old_max, m);
      float p = 0, alpha = 1;
      if (new_max != -INFINITY) {
        p = x == -INFINITY ? 0.0f : expf(x - new_max);
        alpha = old_max == -INFINITY ? 0.0f : expf(old_max - new_max);
      }
      float sum = p;
#pragma unroll
      for (int off = 8; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
      probs[row][col] = f32_to_bf16_bits(p);
      __syncwarp();
      if (col == 0) {
        running_max[row] = new_max;
        running_sum[row] = running_sum[row] * alpha + sum;
        rescale[row] = alpha;
      }
    }
    __syncthreads();
    // O += P · V over this warp's column tiles.
    uint32_t pa[4];
    pa[0] = *reinterpret_cast<const uint32_t*>(&probs[g][2 * t]);
    pa[1] = *reinterpret_cast<const uint32_t*>(&probs[g + 8][2 * t]);
    pa[2] = *reinterpret_cast<const uint32_t*>(&probs[g][2 * t + 8]);
    pa[3] = *reinterpret_cast<const uint32_t*>(&probs[g + 8][2 * t + 8]);
    const float alpha_lo = rescale[g], alpha_hi = rescale[g + 8];
#pragma unroll
    for (int i = 0; i < kMaxColumnTiles; i++) {
      const int nt = warp + kMmaWarps * i;
      if (nt * 8 < columns) {
        o[i][0] *= alpha_lo;
        o[i][1] *= alpha_lo;
        o[i][2] *= alpha_hi;
        o[i][3] *= alpha_hi;
        const int col = nt * 8 + g;
        const uint32_t b0 = static_cast<uint32_t>(keys[(2 * t) * stride + col]) |
                            (static_cast<uint32_t>(keys[(2 * t + 1) * stride + col]) << 16);
        const uint32_t b1 = static_cast<uint32_t>(keys[(2 * t + 8) * stride + col]) |
                            (static_cast<uint32_t>(keys[(2 * t + 9) * stride + col]) << 16);
        mma_m16n8k16_bf16(o[i], pa, b0, b1);
      }
    }
    __syncthreads();  // the next tile overwrites keys, probs and tile_slot
  }
  __syncthreads();
  const float sum_lo = running_sum[g], sum_hi = running_sum[g + 8];
  const float inv_lo = sum_lo > 0 ? 1.0f / sum_lo : 0.0f, inv_hi = sum_hi > 0 ? 1.0f / sum_hi : 0.0f;
#pragma unroll
  for (int i = 0; i < kMaxColumnTiles; i++) {
    const int nt = warp + kMmaWarps * i;
    if (nt * 8 >= columns) continue;
    const int col = nt * 8 + 2 * t;
    for (int half = 0; half < 2; half++) {
      const int head = h0 + g + 8 * half;
      if (head >= heads) continue;
      const float inv = half ? inv_hi : inv_lo;
      const int64_t at = (static_cast<int64_t>(s) * heads + head) * columns + col;
      store_f32(out, out_dtype, at, o[i][2 * half] * inv);
      store_f32(out, out_dtype, at + 1, o[i][2 * half + 1] * inv);
    }
  }
}
