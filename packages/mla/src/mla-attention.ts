import type { AttentionBatch, Backend, FusedKernels, Workspace } from '@dsa/backend';
import { broadcastTo, narrow, reshape, unsqueeze } from '@dsa/tensor';
import { gatherSequenceRows, SCORE_BUDGET, sequenceRuns } from './sequence-runs.js';

/**
 * Absorbed MLA attention over the latent cache; the backend's fused `mlaAttention` when it has one,
 * else this composite of primitive kernels with the same meaning (see `FusedKernels.mlaAttention`).
 * `out` [S, H, C]; `q` [S, H, C+R] (contiguous); `latentCache` [slots, C+R]; `indices` i32 [S, K] or null (dense).
 */
export function mlaAttention(
  backend: Backend,
  workspace: Workspace,
  ...[out, q, latentCache, batch, indices, scale]: Parameters<FusedKernels['mlaAttention']>
): void {
  if (backend.fused.mlaAttention) {
    backend.fused.mlaAttention(out, q, latentCache, batch, indices, scale);
    return;
  }
  const k = backend.kernels;
  const [, heads, width] = q.shape as [number, number, number];
  const c = out.shape[2]!;
  for (const run of sequenceRuns(batch, heads, SCORE_BUDGET)) {
    const mark = workspace.mark();
    const s = run.count;
    const t = run.maxPosition + 1;
    // kv [T, C+R]: the sequence's cached latents in logical order.
    const kv = gatherSequenceRows(backend, workspace, latentCache, batch, run.sequence, t);
    // scores [1, s·H, T] = q · kvᵀ
    const qRun = reshape(narrow(q, 0, run.start, s), [1, s * heads, width]);
    const scores = workspace.tensor('f32', [1, s * heads, t]);
    k.matmul(scores, qRun, unsqueeze(kv, 0), { transposeB: true });
    // mask [s, T]: 0 where attended, -inf elsewhere; broadcast over heads.
    const mask = workspace.tensor('f32', [s, t]);
    if (indices) {
      k.fill(mask, Number.NEGATIVE_INFINITY);
      k.scatterColumns(mask, narrow(indices, 0, run.start, s), 0);
    } else {
      backend.upload(mask, causalMask(batch, run.start, s, t));
    }
    const scores3 = reshape(scores, [s, heads, t]);
    k.binary(scores3, scores3, broadcastTo(unsqueeze(mask, 1), [s, heads, t]), 'add');
    k.softmax(scores3, { scale });
    // out [s·H, C] = P · kv[:, :C]
    const outRun = reshape(narrow(out, 0, run.start, s), [1, s * heads, c]);
    k.matmul(outRun, scores, unsqueeze(narrow(kv, 1, 0, c), 0));
    workspace.rewind(mark);
  }
}

/** Additive causal mask [s, T] for queries `start .. start+s` of the batch. */
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
