import type { TensorView } from '@dsa/tensor';

/** Rotary embedding inputs shared by every layer (MLA and the indexer rotate with the same table). */
export interface RotaryTable {
  /** f32 [R/2] inverse frequencies (YaRN-scaled). */
  readonly invFreq: TensorView;
  /** Multiplies cos and sin (YaRN attention factor; 1 for DeepSeek checkpoints). */
  readonly attentionFactor: number;
}
