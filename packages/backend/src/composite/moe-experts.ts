import type { TensorView } from '@dsa/tensor';
import type { FusedKernels } from '../fused-kernels.js';
import type { ExpertWeights } from '../linear-weight.js';
import type { CompositeHost, Scratch } from './composite-host.js';
import { swiglu } from './swiglu.js';

/**
 * The definition of the fused `moeExperts` in primitive kernels (see `FusedKernels.moeExperts`):
 * downloads the routing (one sync), gathers each active expert's tokens, runs its SwiGLU MLP
 * (`down(swiglu(gate(x), up(x)))`, the backend's fused `swiglu` when it has one) and scatter-adds the
 * result times the routing weight. `x`, `out` [N, D] (out is overwritten); `indices` i32 [N, A] (-1
 * skips a slot); `weights` f32 [N, A].
 */
export async function compositeMoeExperts(
  backend: CompositeHost,
  workspace: Scratch,
  ...[out, x, indices, weights, experts]: Parameters<FusedKernels['moeExperts']>
): Promise<void> {
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
    const ye = expertMlp(backend, workspace, experts[expert]!, xe);
    k.indexAdd(out, ye, rows, scale);
    workspace.rewind(mark);
  }
}

/**
 * Routed experts: out[n] = Σ_a weights[n, a] · expert_{indices[n, a]}(x[n]). The backend's fused
 * `moeExperts` when it has one, else {@link compositeMoeExperts}. Shapes as there.
 */
export async function moeExperts(
  backend: CompositeHost,
  workspace: Scratch,
  ...args: Parameters<FusedKernels['moeExperts']>
): Promise<void> {
  if (backend.fused.moeExperts) backend.fused.moeExperts(...args);
  else await compositeMoeExperts(backend, workspace, ...args);
}

/** One expert's SwiGLU MLP on the rows `x` [M, D]: down(silu(gate(x)) · up(x)), a workspace tensor [M, D]. */
function expertMlp(
  backend: CompositeHost,
  workspace: Scratch,
  expert: ExpertWeights,
  x: TensorView,
): TensorView {
  const k = backend.kernels;
  const m = x.shape[0]!;
  const width = expert.gate.weight.shape[0]!;
  const gate = workspace.tensor('f32', [m, width]);
  const up = workspace.tensor('f32', [m, width]);
  k.linear(gate, x, expert.gate);
  k.linear(up, x, expert.up);
  swiglu(backend, gate, gate, up);
  const out = workspace.tensor('f32', [m, expert.down.weight.shape[0]!]);
  k.linear(out, gate, expert.down);
  return out;
}
