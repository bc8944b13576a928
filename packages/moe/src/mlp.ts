import { type Backend, type ExpertWeights, linears, swiglu, type Workspace } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';

/**
 * A SwiGLU feed-forward block: `down_proj(silu(gate_proj(x)) · up_proj(x))`. Used for the dense
 * layers, the shared experts and (through the `moeExperts` kernel) each routed expert.
 */
export class Mlp {
  constructor(
    /** The backend that runs the kernels. */
    readonly backend: Backend,
    /** gate/up/down projections of this block. */
    readonly weights: ExpertWeights,
  ) {}

  /** Hidden width I (rows of gate_proj). */
  get width(): number {
    return this.weights.gate.weight.shape[0]!;
  }

  /** out [N, D] = MLP(x [N, D]); when `out` is omitted a workspace tensor is returned. */
  forward(workspace: Workspace, x: TensorView, out?: TensorView): TensorView {
    const n = x.shape[0]!;
    const gate = workspace.tensor('f32', [n, this.width]);
    const up = workspace.tensor('f32', [n, this.width]);
    linears(this.backend, [gate, up], x, [this.weights.gate, this.weights.up]);
    return this.down(workspace, gate, up, out);
  }

  /**
   * The rest of {@link Mlp.forward} after the projections, for a caller that computed `gate` = gate_proj(x)
   * and `up` = up_proj(x) [N, I] itself (together with its own projections of x): out [N, D] =
   * down_proj(silu(gate) · up). `gate` is overwritten; when `out` is omitted a workspace tensor is returned.
   */
  down(workspace: Workspace, gate: TensorView, up: TensorView, out?: TensorView): TensorView {
    swiglu(this.backend, gate, gate, up);
    const result = out ?? workspace.tensor('f32', [gate.shape[0]!, this.weights.down.weight.shape[0]!]);
    this.backend.kernels.linear(result, gate, this.weights.down);
    return result;
  }
}
