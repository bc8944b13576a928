import type { LinearWeight } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';

/** Sizes of one MLA layer (DeepSeek names, camel-cased). */
export interface MlaDims {
  /** Hidden size D. */
  readonly dim: number;
  /** Attention heads H. */
  readonly nHeads: number;
  /** null: queries come straight from `q_proj` (no low-rank q). */
  readonly qLoraRank: number | null;
  /** Latent width C (`kv_lora_rank`). */
  readonly kvLoraRank: number;
  /** Non-rotary part of each query/key head, Dn. */
  readonly qkNopeHeadDim: number;
  /** Rotary part of each query/key head, R. */
  readonly qkRopeHeadDim: number;
  /** Value head dim Dv. */
  readonly vHeadDim: number;
  /** Epsilon of the RMSNorms on the q and kv latents. */
  readonly normEps: number;
  /** Scale applied to q·k before softmax (1/√(Dn+R), times the YaRN mscale²). */
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
