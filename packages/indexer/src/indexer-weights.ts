import type { LinearWeight } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';

/** Sizes of one lightning indexer. */
export interface IndexerDims {
  /** `index_n_heads` (Hi) */
  readonly indexNHeads: number;
  /** `index_head_dim` (Di); the first R dims carry RoPE. */
  readonly indexHeadDim: number;
  /** `index_topk` (K) */
  readonly indexTopk: number;
  /** `qk_rope_head_dim` (R) */
  readonly qkRopeHeadDim: number;
}

/**
 * Score precision. `fp32`: scores from f32 q and k (what transformers computes; matches the
 * fixtures exactly). `fp8`: DeepSeek's reference: Hadamard rotation, e4m3 with power-of-two
 * block scales for q and k (spec §4.2-4.4).
 */
export type IndexerPrecision = 'fp32' | 'fp8';

/** Checkpoint tensors of `model.layers.{i}.self_attn.indexer.*`. */
export interface IndexerWeights {
  /** `[Hi·Di, qLora]` */
  readonly wq_b: LinearWeight;
  /** `[Di, D]` */
  readonly wk: LinearWeight;
  /** LayerNorm of the key: weight [Di] */
  readonly k_norm_weight: TensorView;
  /** LayerNorm of the key: bias [Di] */
  readonly k_norm_bias: TensorView;
  /** `[Hi, D]` */
  readonly weights_proj: LinearWeight;
}
