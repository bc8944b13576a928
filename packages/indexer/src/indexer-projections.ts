import type { LinearWeight } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';

/**
 * The indexer's projections of its inputs, computed by the caller (the attention computes them in the same
 * `linears` calls as its own projections of x and of the query latent; see {@link Indexer.projectionWeights}).
 */
export interface IndexerProjections {
  /** wk · x, [S, Di]. */
  readonly key: TensorView;
  /** weights_proj · x, [S, Hi]; needed when the step selects. */
  readonly weights: TensorView | null;
  /** wq_b · qr, [S, Hi · Di]; needed when the step selects. */
  readonly q: TensorView | null;
}

/** The weights behind {@link IndexerProjections}: those applied to x, then those applied to the query latent qr. */
export interface IndexerProjectionWeights {
  /** `[wk]`, or `[wk, weights_proj]` when the step selects. */
  readonly x: readonly LinearWeight[];
  /** `[]`, or `[wq_b]` when the step selects. */
  readonly qr: readonly LinearWeight[];
}

/** The outputs of {@link IndexerProjectionWeights}, in the order of its weights: [S, N_i] f32 each. */
export interface IndexerProjected {
  /** The outputs of `IndexerProjectionWeights.x`. */
  readonly x: readonly TensorView[];
  /** The outputs of `IndexerProjectionWeights.qr`. */
  readonly qr: readonly TensorView[];
}
