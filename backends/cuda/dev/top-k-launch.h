// Launch of kernels/fused/top-k.cu within the default 48 KiB of dynamic shared memory (the same
// arithmetic as src/fused/top-k.ts): hist + bitmap words, the rest for threshold-bin candidates.
#pragma once
#include "dev-common.h"

// impl 2 (default) = dsa_fused_top_k_rows2 (filter-top-k.cuh), 1 = dsa_fused_top_k_rows (v1); the
// environment's DSA_TOPK=v1 makes the default v1.
inline int default_top_k_impl() {
  const char* v = std::getenv("DSA_TOPK");
  return v != nullptr && std::strcmp(v, "v1") == 0 ? 1 : 2;
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
  if (impl == 1)
    dsa_fused_top_k_rows<<<rows, dsa_fused::kTopKThreads, 4 * (fixed + cap), stream>>>(scores, stride, positions, n,
                                                                                        k, out, cap);
  else
    dsa_fused_top_k_rows2<<<rows, dsa_fused::kTopKThreads, 4 * (fixed + cap), stream>>>(scores, stride, positions, n,
                                                                                         k, out, cap);
}
