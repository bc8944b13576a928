import type { DType } from '@dsa/tensor';

/** What a tensor source says about one tensor (a subset of the safetensors {@link TensorInfo}). */
export interface SourceTensorInfo {
  /** Name, in the Hugging Face checkpoint's spelling. */
  readonly name: string;
  /** Element type of the bytes {@link TensorSource.read} returns. */
  readonly dtype: DType;
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Bytes {@link TensorSource.read} returns. */
  readonly byteLength: number;
  /** The file holding it (for error messages). */
  readonly file: string;
}

/**
 * Named tensors the model loader reads, in the checkpoint's names: a safetensors {@link Checkpoint}
 * folder, or a GGUF file seen through {@link GgufCheckpoint}.
 */
export interface TensorSource {
  /** True when the source holds tensor `name`. */
  has(name: string): boolean;
  /** Dtype, shape and size of tensor `name`; throws a CheckpointError naming it when absent. */
  info(name: string): SourceTensorInfo;
  /** The bytes of tensor `name` in a fresh buffer (offset 0). */
  read(name: string): Promise<Uint8Array>;
  /**
   * Optional: reads `target.byteLength` bytes of tensor `name` starting `byteOffset` bytes into it, so a loader can
   * stream a large tensor in slices instead of holding all of it in host memory.
   */
  readRange?(name: string, byteOffset: number, target: Uint8Array): Promise<void>;
}
