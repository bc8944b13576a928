import type { LinearWeight } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';

/**
 * Projections another part of the layer reads from the attention's inputs (the lightning indexer's `wk` and
 * `weights_proj` of x, its `wq_b` of the query latent), which {@link Mla.project} computes in the same
 * `linears` calls as its own: one pass over each input's weights instead of one per weight.
 */
export interface ExtraProjections {
  /** Weights [N_i, D] applied to x [S, D], beside `q_a_proj` and `kv_a_proj_with_mqa`. */
  readonly x: readonly LinearWeight[];
  /** Weights [N_i, qLora] applied to the normed query latent qr, beside `q_b_proj` (to x without low-rank q). */
  readonly qr: readonly LinearWeight[];
}

/** The outputs of {@link ExtraProjections}, in the order of their weights: [S, N_i] f32 each. */
export interface ExtraProjected {
  /** x · weightᵀ for each of `ExtraProjections.x`. */
  readonly x: readonly TensorView[];
  /** qr · weightᵀ for each of `ExtraProjections.qr`. */
  readonly qr: readonly TensorView[];
}
