import type { Backend, ExpertWeights, Workspace } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';
import { Mlp } from './mlp.js';

/**
 * Routed experts: out[n] = Σ_a weights[n, a] · expert_{indices[n, a]}(x[n]). The backend's fused
 * `moeExperts` when it has one; else this composite, which downloads the routing (one sync per
 * MoE layer), gathers each active expert's tokens, runs its SwiGLU and scatter-adds the result.
 * `x`, `out` [N, D] (out is overwritten); `indices` i32 [N, A]; `weights` f32 [N, A].
 */
export async function moeExperts(
  backend: Backend,
  workspace: Workspace,
  out: TensorView,
  x: TensorView,
  indices: TensorView,
  weights: TensorView,
  experts: readonly ExpertWeights[],
): Promise<void> {
  if (backend.fused.moeExperts) {
    backend.fused.moeExperts(out, x, indices, weights, experts);
    return;
  }
  const k = backend.kernels;
  const [n, a] = indices.shape as [number, number];
  const hostIndices = new Int32Array(n * a);
  const hostWeights = new Float32Array(n * a);
  await backend.download(indices, hostIndices);
  await backend.download(weights, hostWeights);
  k.fill(out, 0);
  // tokens and weights per expert, in token order.
  const tokens = new Map<number, { rows: number[]; weights: number[] }>();
  for (let i = 0; i < n * a; i++) {
    const expert = hostIndices[i]!;
    if (expert < 0) continue;
    if (expert >= experts.length) throw new RangeError(`router picked expert ${expert} of ${experts.length}`);
    let entry = tokens.get(expert);
    if (!entry) {
      entry = { rows: [], weights: [] };
      tokens.set(expert, entry);
    }
    entry.rows.push(Math.floor(i / a));
    entry.weights.push(hostWeights[i]!);
  }
  const d = x.shape[1]!;
  for (const [expert, entry] of [...tokens].sort((p, q) => p[0] - q[0])) {
    const mark = workspace.mark();
    const m = entry.rows.length;
    const rows = workspace.tensor('i32', [m]);
    backend.upload(rows, Int32Array.from(entry.rows));
    const scale = workspace.tensor('f32', [m]);
    backend.upload(scale, Float32Array.from(entry.weights));
    const xe = workspace.tensor('f32', [m, d]);
    k.gatherRows(xe, x, rows);
    const ye = new Mlp(backend, experts[expert]!).forward(workspace, xe);
    k.indexAdd(out, ye, rows, scale);
    workspace.rewind(mark);
  }
}
