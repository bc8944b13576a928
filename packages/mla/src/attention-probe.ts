import {
  type AttentionBatch,
  type Backend,
  gatherSequenceRows,
  type LatentCache,
  type Workspace,
} from '@dsa/backend';
import { narrow, reshape, type TensorView, unsqueeze } from '@dsa/tensor';

/**
 * The dense attention distribution of chosen query rows, for studies of sparse attention (how much of
 * it a selection keeps): for each row in `rows`, softmax(scale · q[row, h] · cache[t]) over every causal
 * position t ≤ positions[row], summed over heads and L1-normalised (as DSA's indexer warm-up target is).
 * `q` [S, H, C+R] absorbed queries; `latentCache` [slots, C+R] (f32/bf16, or fp8 rows, dequantized). Returns one f32 [positions[row] + 1]
 * array per row. Reads back to the host: not for the decode hot path.
 */
export async function denseAttentionRows(
  backend: Backend,
  workspace: Workspace,
  q: TensorView,
  latentCache: LatentCache,
  batch: AttentionBatch,
  rows: readonly number[],
  scale: number,
): Promise<Float32Array[]> {
  const [, heads, width] = q.shape as [number, number, number];
  const out: Float32Array[] = [];
  for (const row of rows) {
    const mark = workspace.mark();
    const t = batch.host.positions[row]! + 1;
    const key = gatherSequenceRows(backend, workspace, latentCache, batch, batch.host.sequenceIds[row]!, t);
    // logits [1, H, T] = q[row] [1, H, C+R] · keyᵀ
    const logits = workspace.tensor('f32', [1, heads, t]);
    backend.kernels.matmul(logits, reshape(narrow(q, 0, row, 1), [1, heads, width]), unsqueeze(key, 0), {
      transposeB: true,
    });
    backend.kernels.softmax(logits, { scale });
    const probs = new Float32Array(heads * t);
    await backend.download(logits, probs);
    const summed = new Float32Array(t);
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < t; i++) summed[i] = summed[i]! + probs[h * t + i]! / heads;
    out.push(summed);
    workspace.rewind(mark);
  }
  return out;
}
