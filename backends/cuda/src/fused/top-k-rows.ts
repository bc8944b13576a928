import { KernelArgumentError } from '@dsa/backend';
import type { LaunchArg } from '../launch.js';
import type { FusedKernelHost } from './fused-host.js';

/**
 * Sampled-threshold filter + exact select (filter-top-k.cuh; rows the filter cannot serve fall back to
 * the radix select inside the kernel). The radix-only and the row-split kernels it beat are in dev/.
 */
const KERNEL = 'dsa_fused_top_k_rows2';
/** Threads per CTA of the top-k kernel (kTopKThreads). */
const THREADS = 1024;
/** u32 words of shared memory the kernel may use without an opt-in (48 KiB), less a margin for its statics. */
const SHARED_WORDS = 12288 - 64;
/** Histogram bins of the first digit (kHistBins). */
const HIST_BINS = 2048;

/** The longest row {@link launchTopkRows} accepts (its bitmap and histogram must fit 48 KiB). */
export const TOP_K_MAX_ROW = (SHARED_WORDS - HIST_BINS) * 32;

/**
 * Launches kernels/fused/top-k.cu over `rows` rows of f32 `scores` (row `r` at `scores + r · rowStride`
 * elements, length `n`, or min(n, positions[r] + 1) when `positions` is a device pointer): the k best
 * indices of each row, ascending, ties to the lower index, -1 padded, into i32 `out` [rows, k].
 */
export function launchTopkRows(
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
      'topk',
      `rows of ${n} entries exceed the ${TOP_K_MAX_ROW} the top-k kernel holds`,
    );
  }
  if (rows === 0) return;
  const fixed = HIST_BINS + Math.ceil(n / 32);
  const cap = SHARED_WORDS - fixed;
  host.launcher.launch(
    KERNEL,
    [rows, 1, 1],
    [THREADS, 1, 1],
    [scores, { i64: BigInt(rowStride) }, positions, { i32: n }, { i32: k }, out, { i32: cap }],
    4 * (fixed + cap),
  );
}
