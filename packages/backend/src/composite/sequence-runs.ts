import type { TensorView } from '@dsa/tensor';
import { type AttentionBatch, slotOf } from '../attention-batch.js';
import type { LatentCache } from '../latent-cache.js';
import type { CompositeHost, Scratch } from './composite-host.js';
import { gatherLatentRows } from './latent-rows.js';

/** Most score elements one composite step materializes (queries × heads × positions). */
export const SCORE_BUDGET = 1 << 24;

/** A contiguous run of query rows of one sequence, processed together by composite kernels. */
export interface SequenceRun {
  /** Row of the block table (the sequence) this run belongs to. */
  readonly sequence: number;
  /** First query row of the run. */
  readonly start: number;
  /** Number of consecutive query rows in the run. */
  readonly count: number;
  /** Largest query position in the run: the run reads positions 0 ..= maxPosition. */
  readonly maxPosition: number;
}

/**
 * Splits the batch's query rows into runs of one sequence each, small enough that
 * count × heads × (maxPosition + 1) stays within `budget` elements.
 */
export function sequenceRuns(batch: AttentionBatch, heads: number, budget: number): SequenceRun[] {
  const { positions, sequenceIds } = batch.host;
  const runs: SequenceRun[] = [];
  let start = 0;
  while (start < positions.length) {
    const sequence = sequenceIds[start]!;
    let end = start + 1;
    let maxPosition = positions[start]!;
    while (end < positions.length && sequenceIds[end] === sequence) {
      const next = Math.max(maxPosition, positions[end]!);
      if ((end - start + 1) * heads * (next + 1) > budget) break;
      maxPosition = next;
      end++;
    }
    runs.push({ sequence, start, count: end - start, maxPosition });
    start = end;
  }
  return runs;
}

/** Pool slots of positions 0 .. count-1 of sequence row `sequence`. */
export function slotMap(batch: AttentionBatch, sequence: number, count: number): Int32Array {
  const slots = new Int32Array(count);
  for (let t = 0; t < count; t++) slots[t] = slotOf(batch, sequence, t);
  return slots;
}

/**
 * The cached rows of positions 0 .. count-1 of the run's sequence, gathered from the paged `cache`
 * ([slots, W] of any float dtype, or an fp8 latent cache, W = C + R) into a workspace tensor f32
 * [count, W] in logical order (converted, or dequantized: see {@link gatherLatentRows}).
 */
export function gatherSequenceRows(
  backend: CompositeHost,
  workspace: Scratch,
  cache: LatentCache,
  batch: AttentionBatch,
  sequence: number,
  count: number,
): TensorView {
  const slots = workspace.tensor('i32', [count]);
  backend.upload(slots, slotMap(batch, sequence, count));
  return gatherLatentRows(backend, workspace, cache, slots);
}
