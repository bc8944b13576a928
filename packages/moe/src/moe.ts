import type { Backend, ExpertWeights, LinearWeight, MoeRouteOptions, Workspace } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';
import { Mlp } from './mlp.js';
import { moeExperts } from './moe-experts.js';
import { moeRoute } from './moe-route.js';

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

  /** out [N, D] = Σ routed + shared, for the normed hidden states `x` [N, D]; a workspace tensor when `out` is omitted. */
  async forward(workspace: Workspace, x: TensorView, output?: TensorView): Promise<TensorView> {
    const k = this.backend.kernels;
    const n = x.shape[0]!;
    const e = this.weights.experts.length;
    const a = this.route.topk;
    const out = output ?? workspace.tensor('f32', [n, x.shape[1]!]);
    const mark = workspace.mark();
    const logits = workspace.tensor('f32', [n, e]);
    k.linear(logits, x, this.weights.gate);
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
    await moeExperts(this.backend, workspace, out, x, indices, weights, this.weights.experts);
    if (this.shared) {
      const shared = this.shared.forward(workspace, x);
      k.binary(out, out, shared, 'add');
    }
    workspace.rewind(mark);
    return out;
  }
}
