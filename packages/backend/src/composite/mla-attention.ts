import { broadcastTo, narrow, reshape, unsqueeze } from '@dsa/tensor';
import type { FusedKernels } from '../fused-kernels.js';
import { causalMask } from './causal-mask.js';
import { type CompositeHost, fusedOrComposite, type Scratch } from './composite-host.js';
import { gatherSequenceRows, SCORE_BUDGET, sequenceRuns } from './sequence-runs.js';

/**
 * The definition of the fused `mlaAttention` in primitive kernels (see `FusedKernels.mlaAttention`):
 * per run of one sequence's queries, gather the latents (dequantizing the rows read from an fp8 cache),
 * q · kvᵀ, mask (sparse indices or causal), softmax, P · kv[:, :C]. `out` [S, H, C]; `q` [S, H, C+R]
 * (contiguous); `latentCache` [slots, C+R] f32/bf16 or an fp8 latent cache; `indices` i32 [S, K] or
 * null (dense).
 */
export function compositeMlaAttention(
  backend: CompositeHost,
  workspace: Scratch,
  ...[out, q, latentCache, batch, indices, scale]: Parameters<FusedKernels['mlaAttention']>
): void {
  const k = backend.kernels;
  const [, heads, width] = q.shape as [number, number, number];
  const c = out.shape[2]!;
  for (const run of sequenceRuns(batch, heads, SCORE_BUDGET)) {
    const mark = workspace.mark();
    const s = run.count;
    const t = run.maxPosition + 1;
    // kv [T, C+R] f32: the sequence's cached latents in logical order.
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

/**
 * Absorbed MLA attention over the latent cache: the backend's fused `mlaAttention` when it has one,
 * else {@link compositeMlaAttention}. Shapes as there.
 */
export const mlaAttention = fusedOrComposite('mlaAttention', compositeMlaAttention);
