// Deterministic block reductions: each thread folds its strided elements in index order, then a
// fixed shared-memory tree combines the partials. The result depends only on the row's length and
// the block size (a compile-time constant), never on how many rows are launched together.
#pragma once

namespace dsa {

constexpr int kRowThreads = 256;

template <typename T, typename Op>
__device__ __forceinline__ T block_reduce(T value, T* shared, Op op) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int s = kRowThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) shared[threadIdx.x] = op(shared[threadIdx.x], shared[threadIdx.x + s]);
    __syncthreads();
  }
  const T result = shared[0];
  __syncthreads();
  return result;
}

struct SumOp {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a > b ? a : b; }
};

}  // namespace dsa
