import { KernelArgumentError } from '@dsa/backend';
import { type DType, formatShape, type TensorView } from '@dsa/tensor';
import { devicePointer } from './device-pointer.js';
import type { LaunchArg } from './launch.js';

/** dtype codes of kernels/common/tensor.cuh. */
export const CUDA_DTYPE_CODES: Readonly<Partial<Record<DType, number>>> = {
  f32: 0,
  bf16: 1,
  f16: 2,
  f8_e4m3: 3,
  i32: 4,
  f64: 5,
  i64: 6,
  i16: 7,
  i8: 8,
  u8: 9,
  bool: 9,
};

/** Largest rank a kernel tensor descriptor carries (kMaxRank of tensor.cuh). */
export const MAX_RANK = 6;

/** 64-bit launch arguments per tensor descriptor: pointer, dtype, rank, shape[6], strides[6]. */
export const TENSOR_ARG_COUNT = 3 + 2 * MAX_RANK;

const NONE: LaunchArg[] = Array.from({ length: TENSOR_ARG_COUNT }, () => ({ i64: 0n }));

/**
 * The `dsa::Tensor` descriptor of `view` as {@link TENSOR_ARG_COUNT} i64 launch arguments (a struct of
 * int64 fields packs exactly like consecutive int64 parameters). `null` gives an all-zero descriptor.
 * Throws naming `kernel` and `name` for a foreign buffer, an unsupported dtype or too high a rank.
 */
export function tensorArgs(kernel: string, name: string, view: TensorView | null | undefined): LaunchArg[] {
  if (view === null || view === undefined) return NONE;
  const code = CUDA_DTYPE_CODES[view.dtype];
  if (code === undefined)
    throw new KernelArgumentError(kernel, `${name}: dtype ${view.dtype} is not supported on cuda`);
  const rank = view.shape.length;
  if (rank > MAX_RANK) {
    throw new KernelArgumentError(
      kernel,
      `${name} has rank ${rank} ${formatShape(view.shape)}, above ${MAX_RANK}`,
    );
  }
  let pointer: bigint;
  try {
    pointer = devicePointer(view, name);
  } catch (error) {
    throw new KernelArgumentError(kernel, (error as Error).message.replace(/^devicePointer: /, ''));
  }
  const args: LaunchArg[] = [{ i64: pointer }, { i64: BigInt(code) }, { i64: BigInt(rank) }];
  for (let d = 0; d < MAX_RANK; d++) args.push({ i64: BigInt(d < rank ? view.shape[d]! : 1) });
  for (let d = 0; d < MAX_RANK; d++) args.push({ i64: BigInt(d < rank ? view.strides[d]! : 0) });
  return args;
}
