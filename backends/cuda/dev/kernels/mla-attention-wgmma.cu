// Hopper (sm_90a) sparse/dense MLA decode attention for DeepSeek's latent shape (width 576 = 512 + 64,
// 512 value columns) on warpgroup MMA (wgmma), the FlashMLA recipe:
//   one CTA (3 warpgroups, 384 threads) per (query, group of 64 heads), over all the query's keys;
//   warpgroup 0 gathers key tiles of 32 latent rows into shared memory (3 stages, mbarriers full/empty):
//     bf16 cache: cp.async 16-byte chunks; fp8 cache (DeepSeek's 656-byte rows: 512 e4m3, 4 f32 block
//     scales, 64 bf16 RoPE values): e4m3 → bf16 × block scale in registers (exact for power-of-two scales);
//   warpgroups 1 and 2 ("consumers") each compute S = Q · Kᵀ over half of the 576 features
//     (18 × wgmma m64n32k16, both operands from shared memory), exchange the halves through shared memory and
//     add them in the same order (identical S in both), run the online softmax in registers and accumulate
//     O[64 heads, 256 columns] += P · V (2 × wgmma m64n256k16, P from registers, V = the tile's first 512
//     features, N-major) for their half of the 512 output columns.
// Shared-memory operands use the 128-byte swizzle: a matrix of rows × 576 bf16 is stored as 9 planes of
// 64 features, each plane [rows][128 bytes] with 16-byte chunk c of row r at chunk c ^ (r & 7).
// q [S, H, 576] f32 or bf16 (rounded to bf16), out [S, H, 512] f32 or bf16, cache [slots, 576] bf16 or
// [slots, 656] bytes (cache_format 0 / 1). Keys: indices[s, :] (sparse, < 0 ignored) or 0..positions[s]
// (dense, indices null); a query with no valid key gets zeros. No split over CTAs: a query's result does not
// depend on the batch. Dynamic shared memory: kWgSmemBytes. Other architectures: the entry point traps.
#include "../../kernels/fused/fused-common.cuh"

using namespace dsa_fused;

namespace {
constexpr int kWgHeads = 64, kWgKeys = 32, kWgWidth = 576, kWgCols = 512, kWgStages = 3, kWgPlanes = 9;
constexpr int kWgFp8RowBytes = 656, kWgFp8RopeOffset = 528, kWgFp8ScaleOffset = 512;
constexpr int kWgThreads = 384, kWgConsumers = 256;
constexpr int kQPlaneBytes = kWgHeads * 128;                    // 8192
constexpr int kQBytes = kWgPlanes * kQPlaneBytes;               // 73728
constexpr int kKPlaneBytes = kWgKeys * 128;                     // 4096
constexpr int kKTileBytes = kWgPlanes * kKPlaneBytes;           // 36864
constexpr int kExchangeBytes = 2 * 2 * kWgHeads * kWgKeys * 4;  // [tile parity][warpgroup][16][128] f32
constexpr int kSlotBytes = kWgStages * kWgKeys * 8;
constexpr int kBarrierBytes = 2 * kWgStages * 8;
}  // namespace
[[maybe_unused]] constexpr int kWgSmemBytes =
    1024 + kQBytes + kWgStages * kKTileBytes + kExchangeBytes + kSlotBytes + kBarrierBytes;

#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ == 900) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define DSA_WGMMA 1
#endif

#ifdef DSA_WGMMA
namespace {
__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
// Byte offset of 16-byte chunk `chunk` (0..7) of row `row` inside a 128-byte-swizzled plane.
__device__ __forceinline__ uint32_t swizzled(int row, int chunk) {
  return static_cast<uint32_t>(row * 128 + ((chunk ^ (row & 7)) << 4));
}
// wgmma shared-memory descriptor, 128-byte swizzle: start address, leading and stride byte offsets.
__device__ __forceinline__ uint64_t smem_desc(uint32_t address, uint32_t leading, uint32_t stride) {
  return static_cast<uint64_t>((address & 0x3FFFF) >> 4) | (static_cast<uint64_t>(leading >> 4) << 16) |
         (static_cast<uint64_t>(stride >> 4) << 32) | (1ull << 62);
}
__device__ __forceinline__ uint32_t wg_pack_bf16x2(float lo, float hi) {
  uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}
__device__ __forceinline__ void mbar_init(uint32_t bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count));
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_arrive_cp_async(uint32_t bar) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  asm volatile(
      "{\n.reg .pred done;\nWAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT;\n}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0) : "memory");
}
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
__device__ __forceinline__ void consumer_sync() { asm volatile("bar.sync 1, 256;\n" ::: "memory"); }
__device__ __forceinline__ void producer_sync() { asm volatile("bar.sync 2, 128;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_wait_all() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void fence_registers(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; i++) asm volatile("" : "+f"(d[i])::"memory");
}

// d[16] (+)= A[64×16] · B[32×16]ᵀ: A and B K-major in shared memory (descriptors), f32 accumulators.
__device__ __forceinline__ void wgmma_m64n32k16_ss(float (&d)[16], uint64_t desc_a, uint64_t desc_b, int accumulate) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %18, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, %16, %17, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
      : "l"(desc_a), "l"(desc_b), "r"(accumulate));
}

// d[128] += A[64×16] · B[16×256]: A (P) in registers (bf16 pairs), B (V) N-major in shared memory.
__device__ __forceinline__ void wgmma_m64n256k16_rs(float (&d)[128], const uint32_t (&a)[4], uint64_t desc_b) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %133, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, {%128, %129, %130, %131}, %132, p, 1, 1, 1;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
        "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
        "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
        "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
        "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
        "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
        "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
        "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
        "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(1));
}

// 8 e4m3 (two 32-bit words) × scale → 8 bf16 (one 16-byte chunk).
__device__ __forceinline__ uint4 fp8x8_to_bf16(uint32_t w0, uint32_t w1, float scale) {
  uint32_t out[4];
  const uint32_t words[2] = {w0, w1};
#pragma unroll
  for (int i = 0; i < 2; i++) {
#pragma unroll
    for (int half = 0; half < 2; half++) {
      const uint16_t pair = static_cast<uint16_t>(words[i] >> (16 * half));
      uint32_t h2;
      asm("cvt.rn.f16x2.e4m3x2 %0, %1;\n" : "=r"(h2) : "h"(pair));
      const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&h2));
      out[2 * i + half] = wg_pack_bf16x2(f.x * scale, f.y * scale);
    }
  }
  return make_uint4(out[0], out[1], out[2], out[3]);
}
}  // namespace
#endif

extern "C" __global__ void __launch_bounds__(384, 1)
    dsa_fused_mla_attention_wgmma(void* out, int out_dtype, const void* q, int q_dtype, const void* cache,
                                  int cache_format, const int32_t* indices, int index_count,
                                  const int32_t* positions, const int32_t* sequence_ids, const int32_t* block_table,
                                  int max_blocks, int block_size, int heads, float scale) {
#ifndef DSA_WGMMA
  __trap();
#else
  extern __shared__ __align__(16) unsigned char wg_smem_raw[];
  // 128-byte swizzle atoms start on 1024-byte boundaries of the shared address space
  unsigned char* smem = wg_smem_raw + ((1024 - (smem_u32(wg_smem_raw) & 1023)) & 1023);
  unsigned char* qs = smem;                                   // [9 planes][64 heads][128 B]
  unsigned char* ks = qs + kQBytes;                           // [3 stages][9 planes][32 keys][128 B]
  float* exchange = reinterpret_cast<float*>(ks + kWgStages * kKTileBytes);  // [2][2][16][128]
  int64_t* tslot = reinterpret_cast<int64_t*>(reinterpret_cast<unsigned char*>(exchange) + kExchangeBytes);
  uint64_t* bars = reinterpret_cast<uint64_t*>(tslot + kWgStages * kWgKeys);  // full[3], empty[3]
  const uint32_t full0 = smem_u32(bars), empty0 = smem_u32(bars + kWgStages);

  const int s = blockIdx.x, h0 = blockIdx.y * kWgHeads, tid = threadIdx.x;
  const int seq = sequence_ids[s];
  const int count = indices != nullptr ? index_count : positions[s] + 1;
  const int tiles = (count + kWgKeys - 1) / kWgKeys;
  const bool fp8 = cache_format == 1;

  // Q → bf16, swizzled K-major planes (rows past `heads` are zero); barriers.
  for (int e = tid; e < kWgHeads * (kWgWidth / 8); e += kWgThreads) {
    const int h = e / (kWgWidth / 8), chunk = e % (kWgWidth / 8);
    uint32_t packed[4] = {0, 0, 0, 0};
    if (h0 + h < heads) {
      const int64_t at = (static_cast<int64_t>(s) * heads + h0 + h) * kWgWidth + chunk * 8;
#pragma unroll
      for (int i = 0; i < 4; i++) packed[i] = wg_pack_bf16x2(load_f32(q, q_dtype, at + 2 * i), load_f32(q, q_dtype, at + 2 * i + 1));
    }
    *reinterpret_cast<uint4*>(qs + (chunk >> 3) * kQPlaneBytes + swizzled(h, chunk & 7)) =
        make_uint4(packed[0], packed[1], packed[2], packed[3]);
  }
  if (tid == 0) {
    for (int i = 0; i < kWgStages; i++) {
      mbar_init(full0 + 8 * i, fp8 ? 128 : 256);  // bf16: 128 plain arrivals + 128 cp.async arrivals
      mbar_init(empty0 + 8 * i, kWgConsumers);
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  fence_proxy_async();
  __syncthreads();

  if (tid < 128) {
    // ---- producer warpgroup: gathers key tiles ----
    asm volatile("setmaxnreg.dec.sync.aligned.u32 56;\n");
    auto slot_for = [&](int j) -> int64_t {
      if (j >= count) return -1;
      const int pos = indices != nullptr ? indices[static_cast<int64_t>(s) * index_count + j] : j;
      return slot_of(block_table, max_blocks, block_size, seq, pos);
    };
    int64_t next_slot = tid < kWgKeys ? slot_for(tid) : -1;
    for (int tile = 0; tile < tiles; tile++) {
      const int stage = tile % kWgStages;
      if (tile >= kWgStages) mbar_wait(empty0 + 8 * stage, ((tile / kWgStages) - 1) & 1);
      int64_t* sl = tslot + stage * kWgKeys;
      if (tid < kWgKeys) {
        sl[tid] = next_slot;
        next_slot = slot_for((tile + 1) * kWgKeys + tid);
      }
      producer_sync();
      unsigned char* dst = ks + stage * kKTileBytes;
      if (!fp8) {
        const uint16_t* rows = static_cast<const uint16_t*>(cache);
        for (int e = tid; e < kWgKeys * (kWgWidth / 8); e += 128) {
          const int key = e / (kWgWidth / 8), chunk = e % (kWgWidth / 8);
          const int64_t slot = sl[key];
          cp_async16(smem_u32(dst + (chunk >> 3) * kKPlaneBytes + swizzled(key, chunk & 7)),
                     rows + (slot >= 0 ? slot : 0) * kWgWidth + chunk * 8, slot >= 0);
        }
        mbar_arrive_cp_async(full0 + 8 * stage);
        mbar_arrive(full0 + 8 * stage);
      } else {
        const unsigned char* rows = static_cast<const unsigned char*>(cache);
        // 512 e4m3 per row = 32 pieces of 16 values (two bf16 chunks each); 64 bf16 RoPE = 8 chunks.
        for (int e = tid; e < kWgKeys * 40; e += 128) {
          const int key = e / 40, piece = e % 40;
          const int64_t slot = sl[key];
          const unsigned char* row = rows + (slot >= 0 ? slot : 0) * kWgFp8RowBytes;
          if (piece < 32) {
            uint4 raw = make_uint4(0, 0, 0, 0);
            float block_scale = 0.0f;
            if (slot >= 0) {
              raw = __ldg(reinterpret_cast<const uint4*>(row) + piece);
              block_scale = __ldg(reinterpret_cast<const float*>(row + kWgFp8ScaleOffset) + piece / 8);
            }
            const int chunk = 2 * piece;  // features 16·piece .. +15 = chunks 2·piece, 2·piece + 1
            *reinterpret_cast<uint4*>(dst + (chunk >> 3) * kKPlaneBytes + swizzled(key, chunk & 7)) =
                fp8x8_to_bf16(raw.x, raw.y, block_scale);
            *reinterpret_cast<uint4*>(dst + ((chunk + 1) >> 3) * kKPlaneBytes + swizzled(key, (chunk + 1) & 7)) =
                fp8x8_to_bf16(raw.z, raw.w, block_scale);
          } else {
            const int chunk = 64 + (piece - 32);  // RoPE features 512 + 8·(piece − 32)
            uint4 raw = make_uint4(0, 0, 0, 0);
            if (slot >= 0) raw = __ldg(reinterpret_cast<const uint4*>(row + kWgFp8RopeOffset) + (piece - 32));
            *reinterpret_cast<uint4*>(dst + (chunk >> 3) * kKPlaneBytes + swizzled(key, chunk & 7)) = raw;
          }
        }
        fence_proxy_async();
        mbar_arrive(full0 + 8 * stage);
      }
    }
    return;
  }

  // ---- consumer warpgroups 1, 2: S half, softmax, O half ----
  asm volatile("setmaxnreg.inc.sync.aligned.u32 224;\n");
  const int wg = (tid >> 7) - 1, ctid = tid & 127, warp = ctid >> 5, lane = ctid & 31, g = lane >> 2, t4 = lane & 3;
  const float scale_log2 = scale * 1.4426950408889634f;
  float o[128];
#pragma unroll
  for (int i = 0; i < 128; i++) o[i] = 0.0f;
  float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.0f, l_hi = 0.0f;
  const uint32_t q_base = smem_u32(qs), k_base = smem_u32(ks);
  for (int tile = 0; tile < tiles; tile++) {
    const int stage = tile % kWgStages;
    mbar_wait(full0 + 8 * stage, (tile / kWgStages) & 1);
    fence_proxy_async();
    const uint32_t tile_base = k_base + stage * kKTileBytes;
    float sc[16];
#pragma unroll
    for (int i = 0; i < 16; i++) sc[i] = 0.0f;
    wgmma_fence();
#pragma unroll
    for (int i = 0; i < 18; i++) {
      const int kk = wg * 18 + i, plane = kk >> 2, sub = kk & 3;
      wgmma_m64n32k16_ss(sc, smem_desc(q_base + plane * kQPlaneBytes + sub * 32, 16, 1024),
                         smem_desc(tile_base + plane * kKPlaneBytes + sub * 32, 16, 1024), i > 0);
    }
    wgmma_commit();
    wgmma_wait_all();
    fence_registers(sc);
    // exchange the S halves: [tile & 1][wg][i][ctid]
    float* mine = exchange + ((tile & 1) * 2 + wg) * 16 * 128;
    const float* theirs = exchange + ((tile & 1) * 2 + (1 - wg)) * 16 * 128;
#pragma unroll
    for (int i = 0; i < 16; i++) mine[i * 128 + ctid] = sc[i];
    consumer_sync();
    const int64_t* sl = tslot + stage * kWgKeys;
    float x[16];
    float mx_lo = -INFINITY, mx_hi = -INFINITY;
#pragma unroll
    for (int i = 0; i < 16; i++) {
      const float other = theirs[i * 128 + ctid];
      const float total = wg == 0 ? sc[i] + other : other + sc[i];  // half 0 + half 1 in both
      const int key = 8 * (i >> 2) + 2 * t4 + (i & 1);
      x[i] = sl[key] >= 0 ? total * scale_log2 : -INFINITY;
      if (i & 2)
        mx_hi = fmaxf(mx_hi, x[i]);
      else
        mx_lo = fmaxf(mx_lo, x[i]);
    }
    mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, 1));
    mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, 2));
    mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, 1));
    mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, 2));
    const float new_lo = fmaxf(m_lo, mx_lo), new_hi = fmaxf(m_hi, mx_hi);
    const float alpha_lo = m_lo == -INFINITY ? (new_lo == -INFINITY ? 1.0f : 0.0f) : exp2f(m_lo - new_lo);
    const float alpha_hi = m_hi == -INFINITY ? (new_hi == -INFINITY ? 1.0f : 0.0f) : exp2f(m_hi - new_hi);
    float p[16];
    float sum_lo = 0.0f, sum_hi = 0.0f;
#pragma unroll
    for (int i = 0; i < 16; i++) {
      const float mref = (i & 2) ? new_hi : new_lo;
      p[i] = (x[i] == -INFINITY) ? 0.0f : exp2f(x[i] - mref);
      if (i & 2)
        sum_hi += p[i];
      else
        sum_lo += p[i];
    }
    l_lo = l_lo * alpha_lo + sum_lo;  // this thread's columns; reduced over the quad at the end
    l_hi = l_hi * alpha_hi + sum_hi;
    m_lo = new_lo;
    m_hi = new_hi;
#pragma unroll
    for (int j = 0; j < 32; j++) {
      o[4 * j + 0] *= alpha_lo;
      o[4 * j + 1] *= alpha_lo;
      o[4 * j + 2] *= alpha_hi;
      o[4 * j + 3] *= alpha_hi;
    }
    uint32_t pa[2][4];
#pragma unroll
    for (int kk = 0; kk < 2; kk++) {
      pa[kk][0] = wg_pack_bf16x2(p[8 * kk + 0], p[8 * kk + 1]);
      pa[kk][1] = wg_pack_bf16x2(p[8 * kk + 2], p[8 * kk + 3]);
      pa[kk][2] = wg_pack_bf16x2(p[8 * kk + 4], p[8 * kk + 5]);
      pa[kk][3] = wg_pack_bf16x2(p[8 * kk + 6], p[8 * kk + 7]);
    }
    fence_registers(o);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < 2; kk++)
      wgmma_m64n256k16_rs(o, pa[kk], smem_desc(tile_base + 4 * wg * kKPlaneBytes + kk * 16 * 128, kKPlaneBytes, 1024));
    wgmma_commit();
    wgmma_wait_all();
    fence_registers(o);
    mbar_arrive(empty0 + 8 * stage);
  }
  l_lo += __shfl_xor_sync(0xffffffffu, l_lo, 1);
  l_lo += __shfl_xor_sync(0xffffffffu, l_lo, 2);
  l_hi += __shfl_xor_sync(0xffffffffu, l_hi, 1);
  l_hi += __shfl_xor_sync(0xffffffffu, l_hi, 2);
  const float inv_lo = l_lo > 0 ? 1.0f / l_lo : 0.0f, inv_hi = l_hi > 0 ? 1.0f / l_hi : 0.0f;
  const int head_lo = h0 + 16 * warp + g, head_hi = head_lo + 8;
#pragma unroll
  for (int j = 0; j < 32; j++) {
    const int col = wg * 256 + 8 * j + 2 * t4;
    if (head_lo < heads) {
      const int64_t at = (static_cast<int64_t>(s) * heads + head_lo) * kWgCols + col;
      store_f32(out, out_dtype, at, o[4 * j] * inv_lo);
      store_f32(out, out_dtype, at + 1, o[4 * j + 1] * inv_lo);
    }
    if (head_hi < heads) {
      const int64_t at = (static_cast<int64_t>(s) * heads + head_hi) * kWgCols + col;
      store_f32(out, out_dtype, at, o[4 * j + 2] * inv_hi);
      store_f32(out, out_dtype, at + 1, o[4 * j + 3] * inv_hi);
    }
  }
#endif
}
