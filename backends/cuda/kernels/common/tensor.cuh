// A strided tensor as the TypeScript side passes it to every primitive kernel: 15 consecutive
// 64-bit launch arguments (see src/tensor-args.ts), so the struct layout equals the packed arguments.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <stdint.h>

namespace dsa {

constexpr int kMaxRank = 6;

// dtype codes of src/tensor-args.ts
enum DType : int64_t { F32 = 0, BF16 = 1, F16 = 2, F8E4M3 = 3, I32 = 4, F64 = 5, I64 = 6, I16 = 7, I8 = 8, U8 = 9 };

struct Tensor {
  int64_t ptr;     // device address of element [0, ..., 0]
  int64_t dtype;   // DType
  int64_t rank;
  int64_t shape[kMaxRank];
  int64_t strides[kMaxRank];  // in elements, 0 broadcasts
};

__device__ __forceinline__ int64_t numel(const Tensor& t) {
  int64_t n = 1;
  for (int d = 0; d < t.rank; d++) n *= t.shape[d];
  return n;
}

// Element offset of the row-major linear index `i` over dimensions [0, last] (those after `last` at 0).
__device__ __forceinline__ int64_t offset_over(const Tensor& t, int64_t i, int last) {
  int64_t off = 0;
  for (int d = last; d >= 0; d--) {
    const int64_t s = t.shape[d];
    off += (i % s) * t.strides[d];
    i /= s;
  }
  return off;
}

// Element offset of the row-major linear index `i` (over all dimensions).
__device__ __forceinline__ int64_t offset_of(const Tensor& t, int64_t i) {
  return offset_over(t, i, static_cast<int>(t.rank) - 1);
}

// Element offset of row `r` when the tensor is read as [rows, last dim] (every leading dim is a row).
__device__ __forceinline__ int64_t row_offset(const Tensor& t, int64_t r) {
  return offset_over(t, r, static_cast<int>(t.rank) - 2);
}

__device__ __forceinline__ int64_t last_dim(const Tensor& t) { return t.rank == 0 ? 1 : t.shape[t.rank - 1]; }

__device__ __forceinline__ int64_t rows_of(const Tensor& t) {
  int64_t n = 1;
  for (int d = 0; d + 1 < t.rank; d++) n *= t.shape[d];
  return n;
}

__device__ __forceinline__ double load(const Tensor& t, int64_t off) {
  const char* p = reinterpret_cast<const char*>(t.ptr);
  switch (t.dtype) {
    case F32: return reinterpret_cast<const float*>(p)[off];
    case BF16: return __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(p)[off]);
    case F16: return __half2float(reinterpret_cast<const __half*>(p)[off]);
    case F8E4M3: {
      __nv_fp8_e4m3 v;
      v.__x = reinterpret_cast<const __nv_fp8_storage_t*>(p)[off];
      return static_cast<float>(v);
    }
    case I32: return reinterpret_cast<const int32_t*>(p)[off];
    case F64: return reinterpret_cast<const double*>(p)[off];
    case I64: return static_cast<double>(reinterpret_cast<const int64_t*>(p)[off]);
    case I16: return reinterpret_cast<const int16_t*>(p)[off];
    case I8: return reinterpret_cast<const int8_t*>(p)[off];
    default: return reinterpret_cast<const uint8_t*>(p)[off];
  }
}

__device__ __forceinline__ float loadf(const Tensor& t, int64_t off) {
  if (t.dtype == F32) return reinterpret_cast<const float*>(t.ptr)[off];
  return static_cast<float>(load(t, off));
}

// f32 -> e4m3fn, round to nearest even, saturating to +-448; NaN -> 0x7f (as @dsa/tensor encodes).
__device__ __forceinline__ uint8_t to_e4m3(double v) {
  if (v != v) return 0x7f;
  return __nv_cvt_double_to_fp8(v, __NV_SATFINITE, __NV_E4M3);
}

// Integer stores wrap like JavaScript's typed arrays (ToInt32 of the truncated value).
__device__ __forceinline__ int32_t to_i32(double v) {
  if (!(v == v) || v == __longlong_as_double(0x7ff0000000000000LL) ||
      v == __longlong_as_double(0xfff0000000000000LL))
    return 0;
  const double t = trunc(v);
  const double m = fmod(t, 4294967296.0);
  const double w = m < 0 ? m + 4294967296.0 : m;
  return static_cast<int32_t>(static_cast<uint32_t>(w));
}

__device__ __forceinline__ void store(const Tensor& t, int64_t off, double v) {
  char* p = reinterpret_cast<char*>(t.ptr);
  switch (t.dtype) {
    case F32: reinterpret_cast<float*>(p)[off] = static_cast<float>(v); break;
    case BF16: reinterpret_cast<__nv_bfloat16*>(p)[off] = __float2bfloat16_rn(static_cast<float>(v)); break;  // f32 first, as @dsa/tensor does
    case F16: reinterpret_cast<__half*>(p)[off] = __double2half(v); break;
    case F8E4M3: reinterpret_cast<uint8_t*>(p)[off] = to_e4m3(v); break;
    case I32: reinterpret_cast<int32_t*>(p)[off] = to_i32(v); break;
    case F64: reinterpret_cast<double*>(p)[off] = v; break;
    case I64: reinterpret_cast<int64_t*>(p)[off] = static_cast<int64_t>(trunc(v)); break;
    case I16: reinterpret_cast<int16_t*>(p)[off] = static_cast<int16_t>(to_i32(v)); break;
    case I8: reinterpret_cast<int8_t*>(p)[off] = static_cast<int8_t>(to_i32(v)); break;
    default: reinterpret_cast<uint8_t*>(p)[off] = static_cast<uint8_t>(to_i32(v)); break;
  }
}

__device__ __forceinline__ void storef(const Tensor& t, int64_t off, float v) {
  if (t.dtype == F32) {
    reinterpret_cast<float*>(t.ptr)[off] = v;
    return;
  }
  store(t, off, v);
}

__device__ __forceinline__ int32_t load_i32(const Tensor& t, int64_t off) {
  if (t.dtype == I32) return reinterpret_cast<const int32_t*>(t.ptr)[off];
  return static_cast<int32_t>(load(t, off));
}

// Grid-stride loop over n elements.
#define DSA_FOR(i, n) \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

}  // namespace dsa
