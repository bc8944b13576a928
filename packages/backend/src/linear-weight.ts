import type { TensorView } from '@dsa/tensor';

/**
 * A weight matrix as the checkpoint stores it: `weight` [N, K] (out × in) in f32, bf16, f16 or
 * f8_e4m3; for f8_e4m3 a block scale `scaleInv` f32 [ceil(N/blockN), ceil(K/blockK)] that is
 * *multiplied* in (the name is historical): `W[n, k] = weight[n, k] · scaleInv[n / blockN, k / blockK]`.
 */
export interface LinearWeight {
  /** `[N, K]` */
  readonly weight: TensorView;
  /** `[ceil(N/blockN), ceil(K/blockK)]` f32; present exactly when `weight` is f8_e4m3. */
  readonly scaleInv?: TensorView;
  /** Block size of `scaleInv` as [rows, columns]; DeepSeek checkpoints use [128, 128]. */
  readonly blockSize?: readonly [number, number];
}

/** The three projections of one SwiGLU expert: `down(silu(gate(x)) · up(x))`. */
export interface ExpertWeights {
  /** gate_proj [I, H] */
  readonly gate: LinearWeight;
  /** up_proj [I, H] */
  readonly up: LinearWeight;
  /** down_proj [H, I] */
  readonly down: LinearWeight;
}
