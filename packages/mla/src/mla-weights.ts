import type { LinearWeight } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';

/** Sizes of one MLA layer (DeepSeek names, camel-cased). */
export interface MlaDims {
  readonly dim: number;
  readonly nHeads: number;
  /** null: queries come straight from `q_proj` (no low-rank q). */
  readonly qLoraRank: number | null;
  readonly kvLoraRank: number;
  readonly qkNopeHeadDim: number;
  readonly qkRopeHeadDim: number;
  readonly vHeadDim: number;
  readonly normEps: number;
  readonly softmaxScale: number;
}

/**
 * The weights of one MLA layer under their checkpoint names (`model.layers.{i}.self_attn.*`).
 * `kv_b_proj` is kept as a float matrix [H·(Dn+Dv), C] for the absorbed form: per head, rows
 * [0, Dn) are W_UK and rows [Dn, Dn+Dv) are W_UV (spec §3.5).
 */
export interface MlaWeights {
  /** `[qLora, D]` */
  readonly q_a_proj?: LinearWeight;
  /** `[qLora]` */
  readonly q_a_layernorm?: TensorView;
  /** `[H·(Dn+R), qLora]` */
  readonly q_b_proj?: LinearWeight;
  /** `[H·(Dn+R), D]`, only when qLoraRank is null. */
  readonly q_proj?: LinearWeight;
  /** `[C+R, D]` */
  readonly kv_a_proj_with_mqa: LinearWeight;
  /** `[C]` */
  readonly kv_a_layernorm: TensorView;
  /** `[H·(Dn+Dv), C]`, f32/bf16/f16 (fp8 checkpoints are dequantized at load). */
  readonly kv_b_proj: TensorView;
  /** `[D, H·Dv]` */
  readonly o_proj: LinearWeight;
}
