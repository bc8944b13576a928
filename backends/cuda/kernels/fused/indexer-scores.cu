// Lightning-indexer scores (first half of FusedKernels.indexerTopK; top-k.cu is the second):
//   score[s, t] = keyScale[slot(t)] · Σ_h weights[s, h] · ReLU(q[s, h, :] · key[slot(t), :])   t ≤ positions[s]
// q [S, Hi, Di] f32; weights [S, Hi] f32; keys [slots, Di] f32 or f8_e4m3 (+ scales f32 [slots]);
// scores [S, score_stride] f32 (entries past positions[s] are left untouched: the top-k reads
// min(n, positions[s] + 1) entries). Grid (ceil(maxLength / 64), S), 256 threads: a CTA computes the
// [64 heads × 64 keys] logits of one query with 4×4 register tiles over Di chunks of 32, f32 FMA
// (d-major shared tiles: two 16-byte loads per 16 FMA). v2 (tensor cores) is at the end of the file.
#include "mma-common.cuh"

using namespace dsa_fused;

namespace {
constexpr int kKeys = 64, kHeads = 64, kChunk = 32, kPad = 4;
}

extern "C" __global__ void __launch_bounds__(256)
    dsa_fused_indexer_scores(float* scores, int64_t score_stride, const float* q, const float* weights,
                             const void* keys, int key_dtype, const float* key_scales, const int32_t* positions,
                             const int32_t* sequence_ids, const int32_t* block_table, int max_blocks,
                             int block_size, int heads, int width) {
  // d-major tiles: a thread's 4 heads / 4 keys at one d are one 16-byte load.
  __shared__ __align__(16) float qs[kChunk][kHeads + kPad];
  __shared__ __align__(16) float ks[kChunk][kKeys + kPad];
  __shared__ float partial[16][kKeys];
  __shared__ float total[kKeys];
  __shared__ int64_t slots[kKeys];
  const int s = blockIdx.y;
  const int length = positions[s] + 1;
  const int t0 = blockIdx.x * kKeys;
  if (t0 >= length) return;
  const int tid = threadIdx.x, tk = tid & 15, th = tid >> 4;
  const int seq = sequence_ids[s];
  if (tid < kKeys) {
    const int t = t0 + tid;
    slots[tid] = t < length ? slot_of(block_table, max_blocks, block_size, seq, t) : -1;
    total[tid] = 0;
  }
  const float* qrow = q + static_cast<int64_t>(s) * heads * width;
  for (int h0 = 0; h0 < heads; h0 += kHeads) {
    float acc[4][4] = {};
    for (int d0 = 0; d0 < width; d0 += kChunk) {
      __syncthreads();
      for (int e = tid; e < kHeads * kChunk; e += 256) {
        const int h = e / kChunk, d = e % kChunk;
        qs[d][h] = (h0 + h < heads && d0 + d < width) ? qrow[static_cast<int64_t>(h0 + h) * width + d0 + d] : 0.0f;
      }
      for (int e = tid; e < kKeys * kChunk; e += 256) {
        const int t = e / kChunk, d = e % kChunk;
        const int64_t slot = slots[t];
        ks[d][t] = (slot >= 0 && d0 + d < width) ? load_f32(keys, key_dtype, slot * width + d0 + d) : 0.0f;
      }
      __syncthreads();
#pragma unroll 8
      for (int d = 0; d < kChunk; d++) {
        const float4 qv = *reinterpret_cast<const float4*>(&qs[d][th * 4]);
        const float4 kv = *reinterpret_cast<const float4*>(&ks[d][tk * 4]);
        const float a[4] = {qv.x, qv.y, qv.z, qv.w}, b[4] = {kv.x, kv.y, kv.z, kv.w};
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
          for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
    }
    // Σ over this thread's 4 heads, then over the 16 head groups in a fixed order.
#pragma unroll
    for (int j = 0; j < 4; j++) {
      float sum = 0;
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int h = h0 + th * 4 + i;
        if (h < heads) sum += weights[static_cast<int64_t>(s) * heads + h] * fmaxf(acc[i][j], 0.0f);
      }
      partial[th][tk * 4 + j] = sum;
    }
    __syncthreads();
    if (tid < kKeys) {
      float sum = total[tid];
      for (int g = 0; g < 16; g++) sum += partial[g][tid];
      total[tid] = sum;
    }
  }
  __syncthreads();
  if (tid < kKeys && t0 + tid < length) {
    const int64_t slot = slots[tid];
    float v = total[tid];
    if (key_scales != nullptr) v *= slot >= 0 ? key_scales[slot] : 0.0f;
    scores[static_cast<int64_t>(s) * score_stride + t0 + tid] = slot >= 0 ? v : -INFINITY;
  }
}

// ---- v2: dsa_fused_indexer_scores2 (same arguments), bf16 tensor cores, heads ≤ 64, width == 128 ----
// Grid (ceil(maxLength / 256), S), 256 threads. A CTA owns one query and 4 tiles of 64 keys. q is split
// exactly-enough into two bf16 terms (hi = bf16(q), lo = bf16(q − hi): ~16 significant bits) held as
// mma A fragments in registers for the CTA's life; keys (f8_e4m3 or bf16: exact in bf16) are staged per
// tile in shared memory as bf16; logits [64 heads × 64 keys] = mma.sync m16n8k16 (hi then lo, f32
// accumulation); warp (wm, wn) owns heads 16·wm.. and keys 32·wn... The head sum is fixed-order: per
// thread w_r·ReLU + w_{r+8}·ReLU, an xor tree over the 8 lanes of a key column, then the 4 head
// groups in order; times the key scale. Per query, independent of the batch.
namespace {
constexpr int kIxKeys = 64, kIxTiles = 4, kIxWidth = 128, kIxRow = kIxWidth + 8;

// bf16 bits of an e4m3 byte (exact: e4m3 ⊂ bf16), via f32 (e4m3 bits scaled by 2^-120, times 2^120).
__device__ __forceinline__ uint32_t ix_fp8_to_bf16(uint32_t b) {
  const float f = __uint_as_float(((b & 0x7fu) << 20) | ((b & 0x80u) << 24)) * 0x1p120f;
  return __float_as_uint(f) >> 16;
}
}  // namespace

extern "C" __global__ void __launch_bounds__(256, 2)
    dsa_fused_indexer_scores2(float* scores, int64_t score_stride, const float* q, const float* weights,
                              const void* keys, int key_dtype, const float* key_scales, const int32_t* positions,
                              const int32_t* sequence_ids, const int32_t* block_table, int max_blocks,
                              int block_size, int heads, int width) {
  __shared__ __align__(16) uint16_t ks[kIxKeys][kIxRow];
  __shared__ int64_t slots[2][kIxKeys];
  __shared__ float part[4][kIxKeys];
  const int s = blockIdx.y;
  const int length = positions[s] + 1;
  const int tbase = blockIdx.x * kIxKeys * kIxTiles;
  if (tbase >= length) return;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp & 3, wn = warp >> 2;
  const int r = lane >> 2, c = 2 * (lane & 3);
  const int seq = sequence_ids[s];
  const float* qrow = q + static_cast<int64_t>(s) * heads * width;
  // A fragments of q (rows = heads 16·wm + r, r + 8; columns = d), hi and lo bf16 terms
  uint32_t ahi[8][4], alo[8][4];
#pragma unroll
  for (int kk = 0; kk < 8; kk++)
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int h = wm * 16 + r + (i & 1) * 8, d = kk * 16 + c + (i >> 1) * 8;
      float2 v = make_float2(0.0f, 0.0f);
      if (h < heads) v = *reinterpret_cast<const float2*>(qrow + static_cast<int64_t>(h) * width + d);
      const float h0 = bf16_bits_to_f32(f32_to_bf16_bits(v.x)), h1 = bf16_bits_to_f32(f32_to_bf16_bits(v.y));
      ahi[kk][i] = bf16x2(v.x, v.y);
      alo[kk][i] = bf16x2(v.x - h0, v.y - h1);
    }
  const int h_a = wm * 16 + r, h_b = h_a + 8;
  const float w_a = h_a < heads ? weights[static_cast<int64_t>(s) * heads + h_a] : 0.0f;
  const float w_b = h_b < heads ? weights[static_cast<int64_t>(s) * heads + h_b] : 0.0f;
  // Key tiles are register-prefetched: the next tile's loads are in flight during this tile's mma.
  uint4 raw[4];
  auto fetch = [&](const int64_t* sl) {
    if (key_dtype == kF8E4M3) {  // 64 keys × 8 chunks of 16 fp8: 2 per thread
#pragma unroll
      for (int i = 0; i < 2; i++) {
        const int e = tid + 256 * i, t = e >> 3, p = e & 7;
        const int64_t slot = sl[t];
        raw[i] = slot >= 0 ? __ldg(reinterpret_cast<const uint4*>(static_cast<const uint8_t*>(keys) + slot * kIxWidth + p * 16))
                           : make_uint4(0, 0, 0, 0);
      }
    } else {  // bf16: 64 keys × 16 chunks of 8: 4 per thread
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int e = tid + 256 * i, t = e >> 4, p = e & 15;
        const int64_t slot = sl[t];
        raw[i] = slot >= 0 ? __ldg(reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(keys) + slot * kIxWidth + p * 8))
                           : make_uint4(0, 0, 0, 0);
      }
    }
  };
  auto stage = [&]() {
    if (key_dtype == kF8E4M3) {
#pragma unroll
      for (int i = 0; i < 2; i++) {
        const int e = tid + 256 * i, t = e >> 3, p = e & 7;
        const uint32_t wds[4] = {raw[i].x, raw[i].y, raw[i].z, raw[i].w};
        uint32_t o[8];
#pragma unroll
        for (int j = 0; j < 4; j++) {
          o[2 * j] = ix_fp8_to_bf16(wds[j] & 0xffu) | (ix_fp8_to_bf16((wds[j] >> 8) & 0xffu) << 16);
          o[2 * j + 1] = ix_fp8_to_bf16((wds[j] >> 16) & 0xffu) | (ix_fp8_to_bf16(wds[j] >> 24) << 16);
        }
        uint4* dst = reinterpret_cast<uint4*>(&ks[t][p * 16]);
        dst[0] = make_uint4(o[0], o[1], o[2], o[3]);
        dst[1] = make_uint4(o[4], o[5], o[6], o[7]);
      }
    } else {
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int e = tid + 256 * i, t = e >> 4, p = e & 15;
        *reinterpret_cast<uint4*>(&ks[t][p * 8]) = raw[i];
      }
    }
  };
  if (tid < kIxKeys)
    slots[0][tid] = tbase + tid < length ? slot_of(block_table, max_blocks, block_size, seq, tbase + tid) : -1;
  __syncthreads();
  fetch(slots[0]);
  for (int tile = 0; tile < kIxTiles; tile++) {
    const int t0 = tbase + tile * kIxKeys;
    if (t0 >= length) break;
    const int cur = tile & 1;
    const int tn = t0 + kIxKeys;
    const bool next = tile + 1 < kIxTiles && tn < length;
    stage();  // the previous tile's readers of ks finished at its closing barrier
    if (tid < kIxKeys)
      slots[cur ^ 1][tid] = next && tn + tid < length ? slot_of(block_table, max_blocks, block_size, seq, tn + tid) : -1;
    __syncthreads();
    if (next) fetch(slots[cur ^ 1]);
    float acc[4][4];
#pragma unroll
    for (int nt = 0; nt < 4; nt++)
#pragma unroll
      for (int j = 0; j < 4; j++) acc[nt][j] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < 8; kk++)
#pragma unroll
      for (int nt = 0; nt < 4; nt++) {
        const int key = wn * 32 + nt * 8 + r;
        const uint32_t b0 = *reinterpret_cast<const uint32_t*>(&ks[key][kk * 16 + c]);
        const uint32_t b1 = *reinterpret_cast<const uint32_t*>(&ks[key][kk * 16 + c + 8]);
        mma_m16n8k16_bf16(acc[nt], ahi[kk], b0, b1);
        mma_m16n8k16_bf16(acc[nt], alo[kk], b0, b1);
      }
    // acc[nt][j]: head h_a, key nt·8 + c + j; acc[nt][2 + j]: head h_b, same key
#pragma unroll
    for (int nt = 0; nt < 4; nt++)
#pragma unroll
      for (int j = 0; j < 2; j++) {
        float v = w_a * fmaxf(acc[nt][j], 0.0f);
        v = fmaf(w_b, fmaxf(acc[nt][2 + j], 0.0f), v);
        v += __shfl_xor_sync(0xffffffffu, v, 4);
        v += __shfl_xor_sync(0xffffffffu, v, 8);
        v += __shfl_xor_sync(0xffffffffu, v, 16);
        if (r == 0) part[wm][wn * 32 + nt * 8 + c + j] = v;
      }
    __syncthreads();
    if (tid < kIxKeys && t0 + tid < length) {
      const int64_t slot = slots[cur][tid];
      float v = ((part[0][tid] + part[1][tid]) + part[2][tid]) + part[3][tid];
      if (key_scales != nullptr) v *= slot >= 0 ? key_scales[slot] : 0.0f;
      scores[static_cast<int64_t>(s) * score_stride + t0 + tid] = slot >= 0 ? v : -INFINITY;
    }
    __syncthreads();  // ks, part and slots[cur] are reused by the next tile
  }
}
