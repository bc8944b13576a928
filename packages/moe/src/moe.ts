import {
  type Backend,
  type ExpertWeights,
  type LinearWeight,
  linears,
  type MoeRouteOptions,
  moeExperts,
  moeRoute,
  type Workspace,
} from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';
import { Mlp } from './mlp.js';
import type { MlpProjections } from './mlp-projections.js';

/** Checkpoint tensors of one MoE layer (`model.layers.{i}.mlp.*`). */
export interface MoeWeights {
  /** gate.weight [E, D]: router logits. */
  readonly gate: LinearWeight;
  /** gate.e_score_correction_bias [E] f32, or null. */
  readonly e_score_correction_bias: TensorView | null;
  /** experts.{e}.{gate,up,down}_proj */
  readonly experts: readonly ExpertWeights[];
  /** shared_experts.{gate,up,down}_proj, or null. */
  readonly shared_experts: ExpertWeights | null;
}

/** A DeepSeek MoE block: routed experts chosen by the group-limited router, plus shared experts. */
export class Moe {
  private readonly shared: Mlp | null;

  constructor(
    /** The backend that runs the kernels. */
    readonly backend: Backend,
    /** Router gate, routed experts and optional shared experts. */
    readonly weights: MoeWeights,
    /** Router options (top-k, groups, scaling). */
    readonly route: MoeRouteOptions,
  ) {
    this.shared = weights.shared_experts ? new Mlp(backend, weights.shared_experts) : null;
  }

  /**
   * Whether {@link Moe.record} can run: the backend has a fused `moeExperts`, so the step needs no
   * routing download and can be enqueued synchronously (and captured into a graph).
   */
  get recordable(): boolean {
    return this.backend.fused.moeExperts !== undefined;
  }

  /** out [N, D] = Σ routed + shared, for the normed hidden states `x` [N, D]; a workspace tensor when `out` is omitted. */
  async forward(workspace: Workspace, x: TensorView, output?: TensorView): Promise<TensorView> {
    if (this.recordable) return this.record(workspace, x, output);
    const { out, indices, weights, shared, mark } = this.routeTokens(workspace, x, output);
    await moeExperts(this.backend, workspace, out, x, indices, weights, this.weights.experts);
    this.addShared(workspace, shared, out, mark);
    return out;
  }

  /**
   * {@link Moe.forward} without awaiting: only enqueues kernels (router, the backend's fused
   * `moeExperts`, shared experts), so it can run inside a graph capture. Needs {@link Moe.recordable}.
   */
  record(workspace: Workspace, x: TensorView, output?: TensorView): TensorView {
    const fused = this.backend.fused.moeExperts;
    if (!fused) {
      throw new Error(
        `Moe.record needs the backend's fused moeExperts; ${this.backend.name} has none (use forward)`,
      );
    }
    const { out, indices, weights, shared, mark } = this.routeTokens(workspace, x, output);
    fused(out, x, indices, weights, this.weights.experts);
    this.addShared(workspace, shared, out, mark);
    return out;
  }

  /**
   * Router logits and the top-k routing: `indices` i32 [N, A], `weights` f32 [N, A]; with shared experts,
   * their gate and up projections [N, I] too (one `linears` call with the router's gate: all three read x).
   */
  private routeTokens(
    workspace: Workspace,
    x: TensorView,
    output: TensorView | undefined,
  ): {
    out: TensorView;
    indices: TensorView;
    weights: TensorView;
    shared: MlpProjections | null;
    mark: number;
  } {
    const n = x.shape[0]!;
    const e = this.weights.experts.length;
    const a = this.route.topk;
    const out = output ?? workspace.tensor('f32', [n, x.shape[1]!]);
    const mark = workspace.mark();
    const logits = workspace.tensor('f32', [n, e]);
    let shared: MlpProjections | null = null;
    if (this.shared) {
      const sharedWeights = this.shared.weights;
      shared = {
        gate: workspace.tensor('f32', [n, this.shared.width]),
        up: workspace.tensor('f32', [n, this.shared.width]),
      };
      linears(this.backend, [logits, shared.gate, shared.up], x, [
        this.weights.gate,
        sharedWeights.gate,
        sharedWeights.up,
      ]);
    } else {
      this.backend.kernels.linear(logits, x, this.weights.gate);
    }
    const indices = workspace.tensor('i32', [n, a]);
    const weights = workspace.tensor('f32', [n, a]);
    moeRoute(
      this.backend,
      workspace,
      indices,
      weights,
      logits,
      this.weights.e_score_correction_bias,
      this.route,
    );
    return { out, indices, weights, shared, mark };
  }

  /** out += shared experts(x) from their projections, then releases the step's scratch back to `mark`. */
  private addShared(
    workspace: Workspace,
    projections: MlpProjections | null,
    out: TensorView,
    mark: number,
  ): void {
    if (this.shared && projections) {
      const shared = this.shared.down(workspace, projections.gate, projections.up);
      this.backend.kernels.binary(out, out, shared, 'add');
    }
    workspace.rewind(mark);
  }
}
