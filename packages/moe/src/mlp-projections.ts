import type { TensorView } from '@dsa/tensor';

/** A SwiGLU block's projections of its input x [N, D], computed before `Mlp.down` finishes the block. */
export interface MlpProjections {
  /** gate_proj(x), [N, I] f32. */
  readonly gate: TensorView;
  /** up_proj(x), [N, I] f32. */
  readonly up: TensorView;
}
