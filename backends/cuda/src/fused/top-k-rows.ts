import { KernelArgumentError } from '@dsa/backend';
import type { LaunchArg } from '../launch.js';
import { pointerArg } from './fused-args.js';
import type { FusedKernelHost } from './fused-host.js';

const KERNEL = 'dsa_fused_top_k_rows';
/** v2 (default): sampled-threshold filter + exact select (filter-top-k.cuh); DSA_CUDA_TOPK=v1 picks the radix kernel. */
const KERNEL_V2 = 'dsa_fused_top_k_rows2';
/**
 * v3 (opt-in, DSA_CUDA_TOPK=v3, for ≤ SPLIT_MAX_ROWS rows): each row split over SPLIT_CTAS CTAs
 * (split-top-k.cuh). Its select kernel's 48896 B of dynamic shared memory plus its static shared memory
 * exceed 48 KiB: the launcher opts in (cuFuncSetAttribute) for it. Not the default: on the H200 one
 * 128K row takes 46 µs with v3 and 40 µs with v2.
 */
const KERNEL_SPLIT_FILTER = 'dsa_fused_top_k_split_filter';
const KERNEL_SPLIT_SELECT = 'dsa_fused_top_k_split_select';
/** CTAs per row and threads per CTA of the split filter (kSplitCtas, kSplitThreads). */
const SPLIT_CTAS = 64;
const SPLIT_THREADS = 512;
/** Rows up to which the split pays (more rows already fill the GPU with one CTA each). */
const SPLIT_MAX_ROWS = 8;
/** Shortest row the split kernels split (kSplitMinRow); shorter rows run v2 inside the select kernel. */
const SPLIT_MIN_ROW = 32768;
/** Threads per CTA of the top-k kernel (kTopKThreads). */
const THREADS = 1024;
/** u32 words of shared memory the kernel may use without an opt-in (48 KiB), less a margin for its statics. */
const SHARED_WORDS = 12288 - 64;
/** Histogram bins of the first digit (kHistBins). */
const HIST_BINS = 2048;

/** The longest row {@link launchTopKRows} accepts (its bitmap and histogram must fit 48 KiB). */
export const TOP_K_MAX_ROW = (SHARED_WORDS - HIST_BINS) * 32;

/**
 * Launches kernels/fused/top-k.cu over `rows` rows of f32 `scores` (row `r` at `scores + r · rowStride`
 * elements, length `n`, or min(n, positions[r] + 1) when `positions` is a device pointer): the k best
 * indices of each row, ascending, ties to the lower index, -1 padded, into i32 `out` [rows, k].
 */
export function launchTopKRows(
  host: FusedKernelHost,
  scores: LaunchArg,
  rowStride: number,
  positions: LaunchArg,
  rows: number,
  n: number,
  k: number,
  out: LaunchArg,
): void {
  if (n > TOP_K_MAX_ROW) {
    throw new KernelArgumentError(
      'topK',
      `rows of ${n} entries exceed the ${TOP_K_MAX_ROW} the top-k kernel holds`,
    );
  }
  if (rows === 0) return;
  const fixed = HIST_BINS + Math.ceil(n / 32);
  const cap = SHARED_WORDS - fixed;
  const version = process.env.DSA_CUDA_TOPK;
  if (version === 'v3' && rows <= SPLIT_MAX_ROWS && n >= SPLIT_MIN_ROW) {
    // v3: filter slices of each row on SPLIT_CTAS CTAs into workspace lists, then select per row
    const slice = Math.ceil(Math.ceil(n / SPLIT_CTAS) / 4) * 4; // split_slice
    const mark = host.workspace.mark();
    try {
      const cand = pointerArg(
        KERNEL_SPLIT_FILTER,
        'candidates',
        host.workspace.tensor('i32', [rows * SPLIT_CTAS, slice]),
      );
      const counts = pointerArg(
        KERNEL_SPLIT_FILTER,
        'counts',
        host.workspace.tensor('i32', [rows, SPLIT_CTAS]),
      );
      const args: LaunchArg[] = [
        scores,
        { i64: BigInt(rowStride) },
        positions,
        { i32: n },
        { i32: k },
        out,
        { i32: cap },
        cand,
        counts,
      ];
      host.launcher.launch(KERNEL_SPLIT_FILTER, [SPLIT_CTAS, rows, 1], [SPLIT_THREADS, 1, 1], args);
      host.launcher.launch(KERNEL_SPLIT_SELECT, [rows, 1, 1], [THREADS, 1, 1], args, 4 * (fixed + cap));
    } finally {
      host.workspace.rewind(mark);
    }
    return;
  }
  host.launcher.launch(
    version === 'v1' ? KERNEL : KERNEL_V2,
    [rows, 1, 1],
    [THREADS, 1, 1],
    [scores, { i64: BigInt(rowStride) }, positions, { i32: n }, { i32: k }, out, { i32: cap }],
    4 * (fixed + cap),
  );
}
