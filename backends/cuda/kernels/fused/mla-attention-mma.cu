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
#include "mma-common.cuh"

using namespace dsa_fused;

namespace {
constexpr int kMmaHeads = 16, kMmaKeys = 16, kMmaWarps = 8, kMaxKSteps = 5, kMaxColumnTiles = 8, kPPad = 24;
constexpr int kMaxTileChunks = 5;  // 16-byte chunks per thread per tile: W ≤ 5 · 256 · 8 / 16 = 640
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
      qa[i][r] = bf16x2(lo, hi);
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
      const OnlineSoftmax step = online_softmax(x, running_max[row], m);
      float sum = step.p;
#pragma unroll
      for (int off = 8; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
      probs[row][col] = f32_to_bf16_bits(step.p);
      __syncwarp();
      if (col == 0) online_softmax_commit(step, sum, running_max[row], running_sum[row], rescale[row]);
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

// ---- v2: dsa_fused_mla_attention_mma2 (same arguments), width 576, columns 512 ----
// One CTA (8 warps) per (query, group of 64 heads): every gathered latent row is reused by 64 heads.
// Q [64 heads, 576] bf16 in shared memory; key tiles of 32 rows gathered with cp.async (zero-filled
// for invalid slots), double-buffered, the next tile's gather in flight during the current tile.
// Warp w: head m-tile (w & 3) of 16 heads, output half (w >> 2) = columns 256·half .. +256.
//   S [16 × 32] = Q · Kᵀ: the two warps of an m-tile take k-steps 0..17 / 18..35, exchange partials
//     through shared memory and both add (half 0) + (half 1): identical S in both warps.
//   online softmax in registers (rows g, g + 8 of the fragment; quad shuffles), P rounded to bf16 and
//     reused as the A fragment of P · V (no shared memory), V B-fragments by ldmatrix.trans.
//   O [16 × 256] f32 in registers (32 n-tiles), rescaled per tile, divided by the row sum at the end.
// Dynamic shared memory: kMla2SmemBytes.
namespace {
constexpr int kMla2Heads = 64, kMla2Keys = 32, kMla2Width = 576, kMla2Cols = 512, kMla2Row = kMla2Width + 8;
constexpr int kMla2QBytes = kMla2Heads * kMla2Row * 2, kMla2KBytes = kMla2Keys * kMla2Row * 2;
constexpr int kMla2PartialBytes = 8 * 16 * kMla2Keys * 4;
}  // namespace
[[maybe_unused]] constexpr int kMla2SmemBytes = kMla2QBytes + 2 * kMla2KBytes + kMla2PartialBytes;

extern "C" __global__ void __launch_bounds__(256, 1)
    dsa_fused_mla_attention_mma2(void* out, int out_dtype, const void* q, int q_dtype, const uint16_t* cache,
                                 const int32_t* indices, int index_count, const int32_t* positions,
                                 const int32_t* sequence_ids, const int32_t* block_table, int max_blocks,
                                 int block_size, int heads, int width, int columns, float scale) {
  extern __shared__ __align__(16) unsigned char mla2_smem[];
  uint16_t* qs = reinterpret_cast<uint16_t*>(mla2_smem);                               // [64][kMla2Row]
  uint16_t* kbuf = reinterpret_cast<uint16_t*>(mla2_smem + kMla2QBytes);                // [2][32][kMla2Row]
  float* sp = reinterpret_cast<float*>(mla2_smem + kMla2QBytes + 2 * kMla2KBytes);      // [8][16][32]
  __shared__ int64_t tslot[3][kMla2Keys];
  const int s = blockIdx.x, h0 = blockIdx.y * kMla2Heads;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
  const int mt = warp & 3, half = warp >> 2;
  const int seq = sequence_ids[s];
  const int count = indices != nullptr ? index_count : positions[s] + 1;
  const int tiles = (count + kMla2Keys - 1) / kMla2Keys;
  (void)width;
  (void)columns;
  auto slot_for = [&](int j) -> int64_t {
    if (j >= count) return -1;
    const int pos = indices != nullptr ? indices[static_cast<int64_t>(s) * index_count + j] : j;
    return slot_of(block_table, max_blocks, block_size, seq, pos);
  };
  // Q → bf16 shared rows (heads past `heads` are zero)
  for (int e = tid; e < kMla2Heads * (kMla2Width / 2); e += 256) {
    const int h = e / (kMla2Width / 2), d = 2 * (e % (kMla2Width / 2));
    float lo = 0.0f, hi = 0.0f;
    if (h0 + h < heads) {
      const int64_t at = (static_cast<int64_t>(s) * heads + h0 + h) * kMla2Width + d;
      lo = load_f32(q, q_dtype, at);
      hi = load_f32(q, q_dtype, at + 1);
    }
    *reinterpret_cast<uint32_t*>(qs + h * kMla2Row + d) = bf16x2(lo, hi);
  }
  if (tid < kMla2Keys) {
    tslot[0][tid] = slot_for(tid);
    tslot[1][tid] = slot_for(kMla2Keys + tid);
  }
  __syncthreads();
  constexpr int kChunks = kMla2Width / 8;  // 16-byte chunks per row
  auto issue = [&](int tile) {
    uint16_t* dst = kbuf + (tile & 1) * kMla2Keys * kMla2Row;
    const int64_t* sl = tslot[tile % 3];
    for (int e = tid; e < kMla2Keys * kChunks; e += 256) {
      const int key = e / kChunks, c = e % kChunks;
      const int64_t slot = sl[key];
      const uint16_t* src = cache + (slot >= 0 ? slot : 0) * kMla2Width + c * 8;
      cp_async16(dst + key * kMla2Row + c * 8, src, slot >= 0);
    }
  };
  if (tiles > 0) issue(0);
  cp_async_commit();

  float o[32][4];
#pragma unroll
  for (int i = 0; i < 32; i++)
#pragma unroll
    for (int j = 0; j < 4; j++) o[i][j] = 0.0f;
  float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.0f, l_hi = 0.0f;
  const uint16_t* qa_lo = qs + (mt * 16 + g) * kMla2Row + 2 * t;
  const uint16_t* qa_hi = qa_lo + 8 * kMla2Row;

  for (int tile = 0; tile < tiles; tile++) {
    if (tile + 1 < tiles) issue(tile + 1);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    if (tid < kMla2Keys) tslot[(tile + 2) % 3][tid] = slot_for((tile + 2) * kMla2Keys + tid);
    const uint16_t* ks = kbuf + (tile & 1) * kMla2Keys * kMla2Row;
    // S partial over this warp's 18 k-steps
    float sc[4][4];
#pragma unroll
    for (int nt = 0; nt < 4; nt++)
#pragma unroll
      for (int j = 0; j < 4; j++) sc[nt][j] = 0.0f;
#pragma unroll 6
    for (int kk = half * 18; kk < half * 18 + 18; kk++) {
      uint32_t a[4];
      a[0] = *reinterpret_cast<const uint32_t*>(qa_lo + kk * 16);
      a[1] = *reinterpret_cast<const uint32_t*>(qa_hi + kk * 16);
      a[2] = *reinterpret_cast<const uint32_t*>(qa_lo + kk * 16 + 8);
      a[3] = *reinterpret_cast<const uint32_t*>(qa_hi + kk * 16 + 8);
#pragma unroll
      for (int nt = 0; nt < 4; nt++) {
        const uint16_t* krow = ks + (nt * 8 + g) * kMla2Row + kk * 16 + 2 * t;
        mma_m16n8k16_bf16(sc[nt], a, *reinterpret_cast<const uint32_t*>(krow),
                          *reinterpret_cast<const uint32_t*>(krow + 8));
      }
    }
    float* mine = sp + warp * 16 * kMla2Keys;
#pragma unroll
    for (int nt = 0; nt < 4; nt++) {
      mine[g * kMla2Keys + nt * 8 + 2 * t] = sc[nt][0];
      mine[g * kMla2Keys + nt * 8 + 2 * t + 1] = sc[nt][1];
      mine[(g + 8) * kMla2Keys + nt * 8 + 2 * t] = sc[nt][2];
      mine[(g + 8) * kMla2Keys + nt * 8 + 2 * t + 1] = sc[nt][3];
    }
    __syncthreads();
    const float* p0 = sp + mt * 16 * kMla2Keys;        // half 0 of this m-tile (warp mt)
    const float* p1 = sp + (mt + 4) * 16 * kMla2Keys;  // half 1 (warp mt + 4)
    const int64_t* sl = tslot[tile % 3];
    float x[4][4];
    float mx_lo = -INFINITY, mx_hi = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < 4; nt++)
#pragma unroll
      for (int j = 0; j < 4; j++) {
        const int row = g + (j >> 1) * 8, key = nt * 8 + 2 * t + (j & 1);
        const float v = (p0[row * kMla2Keys + key] + p1[row * kMla2Keys + key]) * scale;
        x[nt][j] = sl[key] >= 0 ? v : -INFINITY;
        if (j < 2)
          mx_lo = fmaxf(mx_lo, x[nt][j]);
        else
          mx_hi = fmaxf(mx_hi, x[nt][j]);
      }
    mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, 1));
    mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, 2));
    mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, 1));
    mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, 2));
    const float new_lo = fmaxf(m_lo, mx_lo), new_hi = fmaxf(m_hi, mx_hi);
    const float alpha_lo = (new_lo == -INFINITY || m_lo == -INFINITY) ? (new_lo == -INFINITY ? 1.0f : 0.0f)
                                                                       : expf(m_lo - new_lo);
    const float alpha_hi = (new_hi == -INFINITY || m_hi == -INFINITY) ? (new_hi == -INFINITY ? 1.0f : 0.0f)
                                                                       : expf(m_hi - new_hi);
    float sum_lo = 0.0f, sum_hi = 0.0f;
    uint32_t pa[2][4];  // A fragments of P for key k-steps 0 (keys 0..15) and 1 (16..31)
#pragma unroll
    for (int nt = 0; nt < 4; nt++) {
      float p[4];
#pragma unroll
      for (int j = 0; j < 4; j++) {
        const float mref = j < 2 ? new_lo : new_hi;
        p[j] = (x[nt][j] == -INFINITY || mref == -INFINITY) ? 0.0f : expf(x[nt][j] - mref);
      }
      sum_lo += p[0] + p[1];
      sum_hi += p[2] + p[3];
      // n-tile nt = k-step nt >> 1, columns (nt & 1) · 8 of it
      pa[nt >> 1][(nt & 1) * 2 + 0] = bf16x2(p[0], p[1]);
      pa[nt >> 1][(nt & 1) * 2 + 1] = bf16x2(p[2], p[3]);
    }
    sum_lo += __shfl_xor_sync(0xffffffffu, sum_lo, 1);
    sum_lo += __shfl_xor_sync(0xffffffffu, sum_lo, 2);
    sum_hi += __shfl_xor_sync(0xffffffffu, sum_hi, 1);
    sum_hi += __shfl_xor_sync(0xffffffffu, sum_hi, 2);
    l_lo = l_lo * alpha_lo + sum_lo;
    l_hi = l_hi * alpha_hi + sum_hi;
    m_lo = new_lo;
    m_hi = new_hi;
#pragma unroll
    for (int i = 0; i < 32; i++) {
      o[i][0] *= alpha_lo;
      o[i][1] *= alpha_lo;
      o[i][2] *= alpha_hi;
      o[i][3] *= alpha_hi;
    }
    // O += P · V over this warp's 256 columns: per key k-step and pair of n-tiles one ldmatrix.x4.trans
    const int mrow = lane & 7, mat = lane >> 3;
#pragma unroll
    for (int kk = 0; kk < 2; kk++)
#pragma unroll
      for (int np = 0; np < 16; np++) {
        const int col = half * 256 + np * 16 + (mat >> 1) * 8;
        const int key = kk * 16 + (mat & 1) * 8 + mrow;
        uint32_t b[4];
        ldmatrix_x4_trans(b, ks + key * kMla2Row + col);
        mma_m16n8k16_bf16(o[2 * np], pa[kk], b[0], b[1]);
        mma_m16n8k16_bf16(o[2 * np + 1], pa[kk], b[2], b[3]);
      }
    __syncthreads();  // the next iteration's gather overwrites this buffer; sp and tslot are reused
  }
  const float inv_lo = l_lo > 0 ? 1.0f / l_lo : 0.0f, inv_hi = l_hi > 0 ? 1.0f / l_hi : 0.0f;
#pragma unroll
  for (int i = 0; i < 32; i++) {
    const int col = half * 256 + i * 8 + 2 * t;
#pragma unroll
    for (int hh = 0; hh < 2; hh++) {
      const int head = h0 + mt * 16 + g + 8 * hh;
      if (head >= heads) continue;
      const float inv = hh ? inv_hi : inv_lo;
      const int64_t at = (static_cast<int64_t>(s) * heads + head) * kMla2Cols + col;
      store_f32(out, out_dtype, at, o[i][2 * hh] * inv);
      store_f32(out, out_dtype, at + 1, o[i][2 * hh + 1] * inv);
    }
  }
}
