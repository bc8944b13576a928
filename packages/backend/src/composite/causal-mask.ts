import type { AttentionBatch } from '../attention-batch.js';

/**
 * Additive causal mask f32 [count, positions] for queries `start .. start+count` of the batch: 0 at
 * positions up to each query's own, -inf after.
 */
export function causalMask(
  batch: AttentionBatch,
  start: number,
  count: number,
  positions: number,
): Float32Array {
  const mask = new Float32Array(count * positions).fill(Number.NEGATIVE_INFINITY);
  for (let i = 0; i < count; i++)
    mask.fill(0, i * positions, i * positions + batch.host.positions[start + i]! + 1);
  return mask;
}
