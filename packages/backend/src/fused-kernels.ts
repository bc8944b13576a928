import type { TensorView } from '@dsa/tensor';
import type { AttentionBatch } from './attention-batch.js';
import type { LatentCache } from './latent-cache.js';
import type { ExpertWeights, LinearWeight } from './linear-weight.js';

/**
 * The lightning-indexer key cache of one layer: `keys` [slots, Di] f32, or f8_e4m3 with
 * `scales` f32 [slots] (one power-of-two scale per token, spec §4.4).
 */
export interface IndexerKeyCache {
  /** f32 or f8_e4m3 [slots, Di]: one indexer key per cache slot. */
  readonly keys: TensorView;
  /** f32 [slots]: per-token scale of f8 `keys`; absent for f32 keys. */
  readonly scales?: TensorView;
}

/** Options of the DeepSeek `noaux_tc` router (spec §5.1). */
export interface MoeRouteOptions {
  /** Number of expert groups (`n_group`). */
  readonly nGroup: number;
  /** Groups kept per token (`topk_group`). */
  readonly topkGroup: number;
  /** Experts per token (`num_experts_per_tok`). */
  readonly topk: number;
  /** `routed_scaling_factor`. */
  readonly routedScalingFactor: number;
  /** `norm_topk_prob`: divide the selected weights by their sum. */
  readonly normalize: boolean;
  /** `scoring_func`. */
  readonly scoring: 'sigmoid' | 'softmax';
}

/**
 * Optional fused kernels: each is one DSA hot path whose meaning is defined by its composite of
 * primitive {@link Kernels} beside this contract (`COMPOSITE_KERNELS`, e.g. `compositeMlaAttention`).
 * A backend lists the ones it implements in `capabilities.fused`; absent means the caller runs the
 * composite (the dispatchers `addRmsNorm`, `swiglu`, `indexerTopk`, `mlaAttention`, `moeRoute` and
 * `moeExperts` of this package pick one or the other). The conformance kit checks every backend's
 * fused kernels against the composites (`fusedCases` of `@dsa/backend/testing`).
 */
export interface FusedKernels {
  /** residual += x; out = rmsNorm(residual) · weight. `out`, `residual`, `x` [N, D]. */
  addRmsNorm(out: TensorView, residual: TensorView, x: TensorView, weight: TensorView, eps: number): void;

  /** out = silu(gate) · up. All [N, I]. */
  swiglu(out: TensorView, gate: TensorView, up: TensorView): void;

  /**
   * Index scores and top-k in one pass.
   * score[s, t] = (scale of key t) · Σ_h weights[s, h] · ReLU(q[s, h, :] · key[t, :]) for t ≤ positions[s],
   * then `indices[s, :]` = the `k` best positions (ascending, -1 padded), ties to the lower position.
   * `q` [S, Hi, Di] f32 (fp8 mode passes dequantized q, exact); `weights` [S, Hi] f32; `indices` i32 [S, k].
   */
  indexerTopk(
    indices: TensorView,
    q: TensorView,
    weights: TensorView,
    keys: IndexerKeyCache,
    batch: AttentionBatch,
    k: number,
  ): void;

  /**
   * Absorbed MLA attention over the latent cache (MQA with one KV head of width C + R,
   * values = the first C columns). For each query s and head h:
   * logit[t] = scale · q[s, h, :] · cache[slot(t), :] over t in `indices[s, :]` (sparse, -1 ignored) or
   * over every t ≤ positions[s] (dense, `indices` null); out[s, h, :] = softmax(logit) · cache[slot(t), :C].
   * A query with no valid position gets zeros. `q` [S, H, C+R]; `out` [S, H, C].
   * `latentCache` is either a [slots, C+R] f32 or bf16 view, or an `Fp8LatentCache` (DeepSeek's
   * 656-byte rows: e4m3 NoPE × power-of-two block scales, bf16 RoPE), whose `cache[slot, :]` means the
   * dequantized row `[e4m3 · scale | bf16]`; the kernel reads the fp8 rows as stored (see {@link LatentCache}).
   */
  mlaAttention(
    out: TensorView,
    q: TensorView,
    latentCache: LatentCache,
    batch: AttentionBatch,
    indices: TensorView | null,
    scale: number,
  ): void;

  /**
   * Router. scores = sigmoid(logits) (or softmax); choice = scores + bias; group score =
   * sum of the two best choices in the group (max when no bias); keep `topkGroup` groups; pick the
   * `topk` best choices in kept groups; weights = scores of those (normalized if asked) · routedScalingFactor.
   * `logits` [N, E] f32; `bias` [E] f32 or null; `indices` i32 [N, A]; `weights` f32 [N, A].
   */
  moeRoute(
    indices: TensorView,
    weights: TensorView,
    logits: TensorView,
    bias: TensorView | null,
    options: MoeRouteOptions,
  ): void;

  /**
   * Several linear maps of one input: `outs[i]` = {@link Kernels.linear}(x, weights[i]) for every i, in one
   * call (the projections of one hidden state: `q_a_proj` and `kv_a_proj_with_mqa`, an MLP's `gate_proj` and
   * `up_proj`). `x` [M, K]; `weights[i]` [N_i, K] in any dtype `linear` takes; `outs[i]` [M, N_i], not
   * overlapping `x` or each other.
   */
  linears(outs: readonly TensorView[], x: TensorView, weights: readonly LinearWeight[]): void;

  /** out[n] = Σ_a weights[n, a] · expert_{indices[n, a]}(x[n]). `x`, `out` [N, H]. */
  moeExperts(
    out: TensorView,
    x: TensorView,
    indices: TensorView,
    weights: TensorView,
    experts: readonly ExpertWeights[],
  ): void;
}

/** Names of the fused kernels. */
export type FusedKernelName = keyof FusedKernels;

/** Every fused kernel name, in a fixed order. */
export const FUSED_KERNEL_NAMES: readonly FusedKernelName[] = [
  'addRmsNorm',
  'swiglu',
  'indexerTopk',
  'mlaAttention',
  'moeRoute',
  'linears',
  'moeExperts',
];
