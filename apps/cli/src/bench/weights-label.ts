import type { DType } from '@dsa/tensor';

/** Checkpoint names for the dtypes the bench reports (the rest keep their tensor dtype names). */
const LABELS: Partial<Record<DType, string>> = { f8_e4m3: 'fp8', i8: 'q8_0' };

/**
 * `dsa bench`'s `dtype` for a loaded model: the dtype of its layer weight matrices as uploaded (layer 0's
 * `o_proj`), in checkpoint terms: `bf16`, `fp8` (f8_e4m3 with block scales), `q8_0` (a GGUF Q8_0 import), `f32`,
 * `f16`. Read from the weights, not the config, so a GGUF file's type is reported as what runs (a Q8_0 file has
 * no `quantization_config`).
 */
export function weightsLabel(
  layers: readonly { self_attn: { o_proj: { weight: { dtype: DType } } } }[],
): string {
  const dtype = layers[0]?.self_attn.o_proj.weight.dtype;
  if (dtype === undefined) throw new Error('the model has no layers to read a weight dtype from');
  return LABELS[dtype] ?? dtype;
}
