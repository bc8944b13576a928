// Row-wise top-k over f32 scores (see radix-top-k.cuh): one CTA of 1024 threads per row.
// scores [rows, row_stride] f32; row r has n entries, or min(n, positions[r] + 1) when `positions`
// is given (the indexer's causal length); out [rows, k] i32. Dynamic shared memory =
// 4 · (top_k_fixed_words(n) + cap) bytes.
#include "radix-top-k.cuh"

using namespace dsa_fused;

// dsa_fused_top_k_rows2 (filter-top-k.cuh): a sampled threshold filter reads a long row about once, then an
// exact select over the few survivors; falls back to the radix select (radix-top-k.cuh) per row. The
// radix-only kernel and the row-split v3 it beat are in backends/cuda/dev/kernels/top-k-v1-v3.cu.
#include "filter-top-k.cuh"

DSA_TOP_K_ROWS_KERNEL(dsa_fused_top_k_rows2, filter_top_k_row)
