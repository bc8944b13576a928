// The top-k kernels dsa_fused_top_k_rows2 (kernels/fused/top-k.cu) beat: v1, the radix select alone
// (dsa_fused_top_k_rows, same arguments, launch and shared memory), and v3, each of few long rows split
// over kSplitCtas CTAs (split-top-k.cuh; 46 µs against v2's 40 µs for one 128K row on the H200). The host
// no longer launches them; they stay in the fatbin build until a GPU run re-verifies a fatbin without them
// (dev/topk.cu times all three).
#include "../../kernels/fused/radix-top-k.cuh"

using namespace dsa_fused;

DSA_TOP_K_ROWS_KERNEL(dsa_fused_top_k_rows, radix_top_k_row)

// v3 for few long rows (split-top-k.cuh): dsa_fused_top_k_split_filter (grid (kSplitCtas, rows), 512
// threads) then dsa_fused_top_k_split_select (grid rows, v1/v2 block and shared memory), arguments
// (scores, row_stride, positions, n, k, out, cap, cand, counts); falls back to v2 per row.
#include "split-top-k.cuh"
