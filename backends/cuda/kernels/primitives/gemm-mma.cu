// Prefill GEMM for linear (M > 16): out[m, n] = sum_k x[m, k] * W[n, k] on bf16 tensor cores
// (mma.sync.m16n8k16, sm_80+), f32 accumulation. x (f32 / bf16 / f16) is split into three bf16 terms,
// x = hi + mid + lo (hi = bf16(x), mid = bf16(x - hi), lo = bf16(x - hi - mid)): 24 significant bits,
// i.e. f32 x exactly (bar bf16's narrower exponent range at the bottom), and each term is multiplied
// by W. W is bf16 (exact) or f8_e4m3 (exact in bf16): the fp8 block scale is applied to each K
// block's partial sum in f32, as the reference dequantizes. Block tile 64 x 64 x 32, 4 warps of
// 32 x 32; every out[m, n] is the same arithmetic whatever M is.
// Also here: the conversions that feed cuBLASLt (src/kernels/gemm.ts): x -> bf16 terms, fp8 W -> f32
// or bf16, and any float view -> dense f32.
#include "../common/tensor.cuh"

using namespace dsa;

namespace {

constexpr int kTM = 64, kTN = 64, kTK = 32, kPad = 8;

__device__ __forceinline__ void mma_bf16(float* c, const uint32_t* a, const uint32_t* b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

__device__ __forceinline__ float weight_at(const Tensor& w, int64_t n, int64_t k) {
  const int64_t off = n * w.strides[0] + k;
  if (w.dtype == BF16) return __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(w.ptr)[off]);
  return loadf(w, off);  // f8_e4m3: the raw value, scaled per K block below
}

}  // namespace

// grid: (ceil(N / 64), ceil(M / 64)); block: 128. blockK must be a multiple of 32 for fp8 weights.
extern "C" __global__ void __launch_bounds__(128)
    dsa_gemm_mma(Tensor out, Tensor x, Tensor weight, Tensor scale, int32_t blockN, int32_t blockK) {
  __shared__ __align__(16) __nv_bfloat16 sxh[kTM][kTK + kPad];
  __shared__ __align__(16) __nv_bfloat16 sxm[kTM][kTK + kPad];
  __shared__ __align__(16) __nv_bfloat16 sxl[kTM][kTK + kPad];
  __shared__ __align__(16) __nv_bfloat16 sw[kTN][kTK + kPad];
  const int64_t M = x.shape[0], N = weight.shape[0], K = weight.shape[1];
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kTM, n0 = static_cast<int64_t>(blockIdx.x) * kTN;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = (warp >> 1) * 32, wn = (warp & 1) * 32;
  const int g = lane >> 2, t = lane & 3;
  const bool fp8 = weight.dtype == F8E4M3;
  const int64_t span = fp8 ? blockK : K;  // K elements per scale block
  float total[2][4][4], part[2][4][4];
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
      for (int r = 0; r < 4; r++) total[i][j][r] = part[i][j][r] = 0.0f;

  for (int64_t k0 = 0; k0 < K; k0 += kTK) {
    __syncthreads();
#pragma unroll 4
    for (int e = tid; e < kTM * kTK; e += 128) {
      const int r = e / kTK, c = e % kTK;
      const int64_t m = m0 + r, k = k0 + c;
      const float v = (m < M && k < K) ? loadf(x, m * x.strides[0] + k) : 0.0f;
      const __nv_bfloat16 hi = __float2bfloat16_rn(v);
      const float rest = v - __bfloat162float(hi);
      const __nv_bfloat16 mid = __float2bfloat16_rn(rest);
      sxh[r][c] = hi;
      sxm[r][c] = mid;
      sxl[r][c] = __float2bfloat16_rn(rest - __bfloat162float(mid));
      const int64_t n = n0 + r;
      sw[r][c] = __float2bfloat16_rn((n < N && k < K) ? weight_at(weight, n, k) : 0.0f);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTK; kk += 16) {
      uint32_t ah[2][4], am[2][4], al[2][4], b[4][2];
#pragma unroll
      for (int i = 0; i < 2; i++) {
        const int r = wm + i * 16 + g;
        ah[i][0] = *reinterpret_cast<const uint32_t*>(&sxh[r][kk + 2 * t]);
        ah[i][1] = *reinterpret_cast<const uint32_t*>(&sxh[r + 8][kk + 2 * t]);
        ah[i][2] = *reinterpret_cast<const uint32_t*>(&sxh[r][kk + 2 * t + 8]);
        ah[i][3] = *reinterpret_cast<const uint32_t*>(&sxh[r + 8][kk + 2 * t + 8]);
        am[i][0] = *reinterpret_cast<const uint32_t*>(&sxm[r][kk + 2 * t]);
        am[i][1] = *reinterpret_cast<const uint32_t*>(&sxm[r + 8][kk + 2 * t]);
        am[i][2] = *reinterpret_cast<const uint32_t*>(&sxm[r][kk + 2 * t + 8]);
        am[i][3] = *reinterpret_cast<const uint32_t*>(&sxm[r + 8][kk + 2 * t + 8]);
        al[i][0] = *reinterpret_cast<const uint32_t*>(&sxl[r][kk + 2 * t]);
        al[i][1] = *reinterpret_cast<const uint32_t*>(&sxl[r + 8][kk + 2 * t]);
        al[i][2] = *reinterpret_cast<const uint32_t*>(&sxl[r][kk + 2 * t + 8]);
        al[i][3] = *reinterpret_cast<const uint32_t*>(&sxl[r + 8][kk + 2 * t + 8]);
      }
#pragma unroll
      for (int j = 0; j < 4; j++) {
        const int c = wn + j * 8 + g;
        b[j][0] = *reinterpret_cast<const uint32_t*>(&sw[c][kk + 2 * t]);
        b[j][1] = *reinterpret_cast<const uint32_t*>(&sw[c][kk + 2 * t + 8]);
      }
#pragma unroll
      for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
          mma_bf16(part[i][j], al[i], b[j]);
          mma_bf16(part[i][j], am[i], b[j]);
          mma_bf16(part[i][j], ah[i], b[j]);
        }
    }
    const int64_t next = k0 + kTK;
    if (next >= K || next % span == 0) {
      // end of a scale block (fp8) or of K: fold the partial sums into the totals
#pragma unroll
      for (int j = 0; j < 4; j++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
          const int64_t n = n0 + wn + j * 8 + 2 * t + h;
          float s = 1.0f;
          if (fp8 && n < N)
            s = reinterpret_cast<const float*>(scale.ptr)[(n / blockN) * scale.strides[0] + (k0 / blockK) * scale.strides[1]];
#pragma unroll
          for (int i = 0; i < 2; i++) {
            total[i][j][h] = fmaf(part[i][j][h], s, total[i][j][h]);
            total[i][j][h + 2] = fmaf(part[i][j][h + 2], s, total[i][j][h + 2]);
            part[i][j][h] = part[i][j][h + 2] = 0.0f;
          }
        }
    }
  }
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
      for (int r = 0; r < 4; r++) {
        const int64_t m = m0 + wm + i * 16 + g + (r >= 2 ? 8 : 0);
        const int64_t n = n0 + wn + j * 8 + 2 * t + (r & 1);
        if (m < M && n < N) storef(out, m * out.strides[0] + n * out.strides[1], total[i][j][r]);
      }
}

// x [M, K] (any float dtype, last dim dense) -> dense bf16 terms [M, K]: hi, and when their pointers are
// non-zero mid and lo (x = hi + mid + lo as in dsa_gemm_mma).
extern "C" __global__ void dsa_split_bf16(Tensor x, int64_t hiPtr, int64_t midPtr, int64_t loPtr) {
  const int64_t K = x.shape[1];
  __nv_bfloat16* hi = reinterpret_cast<__nv_bfloat16*>(hiPtr);
  __nv_bfloat16* mid = reinterpret_cast<__nv_bfloat16*>(midPtr);
  __nv_bfloat16* lo = reinterpret_cast<__nv_bfloat16*>(loPtr);
  DSA_FOR(e, x.shape[0] * K) {
    const int64_t m = e / K, k = e % K;
    const float v = loadf(x, m * x.strides[0] + k);
    const __nv_bfloat16 h = __float2bfloat16_rn(v);
    hi[e] = h;
    if (midPtr) {
      const float rest = v - __bfloat162float(h);
      const __nv_bfloat16 md = __float2bfloat16_rn(rest);
      mid[e] = md;
      if (loPtr) lo[e] = __float2bfloat16_rn(rest - __bfloat162float(md));
    }
  }
}

// Rows [n0, n0 + rows) of an f8_e4m3 weight [N, K] times its block scale -> dense [rows, K], f32
// (toF32 != 0, exact as the reference dequantizes) or bf16 (rounded; DSA_CUDA_GEMM_FAST).
extern "C" __global__ void dsa_dequant_fp8_rows(Tensor weight, Tensor scale, int32_t blockN, int32_t blockK,
                                                int64_t n0, int64_t rows, int64_t dstPtr, int32_t toF32) {
  const int64_t K = weight.shape[1];
  DSA_FOR(e, rows * K) {
    const int64_t n = n0 + e / K, k = e % K;
    const float s = reinterpret_cast<const float*>(scale.ptr)[(n / blockN) * scale.strides[0] + (k / blockK) * scale.strides[1]];
    const float v = loadf(weight, n * weight.strides[0] + k) * s;
    if (toF32) reinterpret_cast<float*>(dstPtr)[e] = v;
    else reinterpret_cast<__nv_bfloat16*>(dstPtr)[e] = __float2bfloat16_rn(v);
  }
}

// Any float view of rank <= 6 -> dense f32 (row-major), for cuBLASLt operands of mixed dtypes.
extern "C" __global__ void dsa_to_dense_f32(Tensor src, int64_t dstPtr) {
  float* dst = reinterpret_cast<float*>(dstPtr);
  DSA_FOR(e, numel(src)) dst[e] = loadf(src, offset_of(src, e));
}
