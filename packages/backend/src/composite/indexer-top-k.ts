import { broadcastTo, narrow, reshape, splitDim, type TensorView, unsqueeze } from '@dsa/tensor';
import type { AttentionBatch } from '../attention-batch.js';
import type { FusedKernels, IndexerKeyCache } from '../fused-kernels.js';
import { causalMask } from './causal-mask.js';
import { type CompositeHost, fusedOrComposite, type Scratch } from './composite-host.js';
import { gatherSequenceRows, SCORE_BUDGET, type SequenceRun, sequenceRuns } from './sequence-runs.js';

/**
 * The definition of the fused `indexerTopk` in primitive kernels (see `FusedKernels.indexerTopk`): per
 * run of one sequence's queries, the scores of {@link indexerRunScores}, then `topk`.
 * `indices` i32 [S, k] (ascending positions, -1 padded); `q` [S, Hi, Di] f32; `weights` [S, Hi] f32.
 */
export function compositeIndexerTopk(
  backend: CompositeHost,
  workspace: Scratch,
  ...[indices, q, weights, keys, batch, k]: Parameters<FusedKernels['indexerTopk']>
): void {
  const heads = q.shape[1]!;
  for (const run of sequenceRuns(batch, heads, SCORE_BUDGET)) {
    const mark = workspace.mark();
    const score = indexerRunScores(backend, workspace, q, weights, keys, batch, run);
    backend.kernels.topk(narrow(indices, 0, run.start, run.count), null, score, k);
    workspace.rewind(mark);
  }
}

/**
 * Lightning-indexer scores and top-k selection: the backend's fused `indexerTopk` when it has one,
 * else {@link compositeIndexerTopk}. Shapes as there.
 */
export const indexerTopk = fusedOrComposite('indexerTopk', compositeIndexerTopk);

/**
 * The lightning-indexer scores of one run of query rows over positions 0 ..= run.maxPosition, with
 * -inf above the diagonal: `score` f32 [run.count, run.maxPosition + 1] in the workspace.
 * `q` [S, Hi, Di] f32; `weights` [S, Hi] f32 (head weights with the scale constants folded in).
 */
export function indexerRunScores(
  backend: CompositeHost,
  workspace: Scratch,
  q: TensorView,
  weights: TensorView,
  keys: IndexerKeyCache,
  batch: AttentionBatch,
  run: SequenceRun,
): TensorView {
  const kernels = backend.kernels;
  const [, heads, width] = q.shape as [number, number, number];
  const s = run.count;
  const t = run.maxPosition + 1;
  // key [T, Di] in f32, dequantized with its per-token scale in fp8 mode.
  const key = gatherSequenceRows(backend, workspace, keys.keys, batch, run.sequence, t);
  if (keys.scales) {
    const scale = gatherSequenceRows(
      backend,
      workspace,
      splitDim(keys.scales, 0, [-1, 1]),
      batch,
      run.sequence,
      t,
    );
    kernels.binary(key, key, broadcastTo(scale, [t, width]), 'mul');
  }
  // logits [1, s·Hi, T] = q · keyᵀ, then ReLU
  const logits = workspace.tensor('f32', [1, s * heads, t]);
  kernels.matmul(logits, reshape(narrow(q, 0, run.start, s), [1, s * heads, width]), unsqueeze(key, 0), {
    transposeB: true,
  });
  kernels.unary(logits, logits, 'relu');
  // score [s, 1, T] = weights [s, 1, Hi] · relu(logits) [s, Hi, T]
  const score = workspace.tensor('f32', [s, 1, t]);
  kernels.matmul(score, unsqueeze(narrow(weights, 0, run.start, s), 1), reshape(logits, [s, heads, t]));
  const score2 = reshape(score, [s, t]);
  const mask = workspace.tensor('f32', [s, t]);
  backend.upload(mask, causalMask(batch, run.start, s, t));
  kernels.binary(score2, score2, mask, 'add');
  return score2;
}

/** @deprecated Renamed {@link compositeIndexerTopk} (one spelling of top-k); this alias goes in a later minor release. */
export const compositeIndexerTopK = compositeIndexerTopk;

/** @deprecated Renamed {@link indexerTopk} (one spelling of top-k); this alias goes in a later minor release. */
export const indexerTopK = indexerTopk;
