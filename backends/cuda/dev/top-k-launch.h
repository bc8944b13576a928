// Launch of kernels/fused/top-k.cu within the default 48 KiB of dynamic shared memory (the same
// arithmetic as src/fused/top-k.ts): hist + bitmap words, the rest for threshold-bin candidates.
#pragma once
#include "dev-common.h"

// impl 3 (default) = split-top-k.cuh for ≤ kSplitMaxRows rows (else v2), 2 = dsa_fused_top_k_rows2
// (filter-top-k.cuh), 1 = dsa_fused_top_k_rows (v1); the environment's DSA_TOPK=v1|v2 sets the default.
constexpr int kSplitMaxRows = 8;  // src/fused/top-k-rows.ts SPLIT_MAX_ROWS
inline int default_top_k_impl() {
  const char* v = std::getenv("DSA_TOPK");
  if (v != nullptr && std::strcmp(v, "v1") == 0) return 1;
  if (v != nullptr && std::strcmp(v, "v2") == 0) return 2;
  return 3;
}
inline void launch_top_k(const float* scores, int64_t stride, const int32_t* positions, int rows, int n, int k,
                         int32_t* out, cudaStream_t stream = 0, int impl = 0) {
  if (impl == 0) impl = default_top_k_impl();
  const int fixed = dsa_fused::top_k_fixed_words(n);
  const int cap = 12288 - fixed - 64;
  if (cap < 0) {
    std::fprintf(stderr, "row of %d entries does not fit the top-k bitmap\n", n);
    std::exit(2);
  }
  if (impl == 3 && rows <= kSplitMaxRows) {
    static uint32_t* cand = nullptr;  // grown on demand, never freed (dev program)
    static uint32_t* counts = nullptr;
    static size_t cand_words = 0, count_words = 0;
    const size_t need = static_cast<size_t>(rows) * dsa_fused::kSplitCtas * dsa_fused::split_slice(n);
    const size_t need_counts = static_cast<size_t>(rows) * dsa_fused::kSplitCtas;
    if (need > cand_words) {
      CUDA_CHECK(cudaFree(cand));
      CUDA_CHECK(cudaMalloc(&cand, 4 * need));
      cand_words = need;
    }
    if (need_counts > count_words) {
      CUDA_CHECK(cudaFree(counts));
      CUDA_CHECK(cudaMalloc(&counts, 4 * need_counts));
      count_words = need_counts;
    }
    dsa_fused_top_k_split_filter<<<dim3(dsa_fused::kSplitCtas, rows), dsa_fused::kSplitThreads, 0, stream>>>(
        scores, stride, positions, n, k, out, cap, cand, counts);
    // Its static shared memory (offsets, flags) plus 48896 B dynamic exceed 48 KiB: opt in, as
    // src/cuda-module.ts does for every launch over the default.
    CUDA_CHECK(cudaFuncSetAttribute(dsa_fused_top_k_split_select, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    4 * (fixed + cap)));
    dsa_fused_top_k_split_select<<<rows, dsa_fused::kTopKThreads, 4 * (fixed + cap), stream>>>(
        scores, stride, positions, n, k, out, cap, cand, counts);
  } else if (impl == 1)
    dsa_fused_top_k_rows<<<rows, dsa_fused::kTopKThreads, 4 * (fixed + cap), stream>>>(scores, stride, positions, n,
                                                                                        k, out, cap);
  else
    dsa_fused_top_k_rows2<<<rows, dsa_fused::kTopKThreads, 4 * (fixed + cap), stream>>>(scores, stride, positions, n,
                                                                                         k, out, cap);
}
