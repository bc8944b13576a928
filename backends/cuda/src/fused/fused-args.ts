import { KernelArgumentError } from '@dsa/backend';
import { type DType, formatShape, isContiguous, type TensorView } from '@dsa/tensor';
import { devicePointer } from '../device-pointer.js';
import { expectDType as expectOneOf } from '../kernels/kernel-context.js';
import type { LaunchArg } from '../launch.js';

/** dtype codes of kernels/fused/fused-common.cuh (`DTypeCode`). */
export const FUSED_DTYPE_CODES: Readonly<Partial<Record<DType, number>>> = {
  f32: 0,
  bf16: 1,
  f16: 2,
  f8_e4m3: 3,
};

/** The `DTypeCode` of `view` as an i32 argument; throws naming `kernel`/`name` unless it is one of `allowed`. */
export function dtypeArg(
  kernel: string,
  name: string,
  view: TensorView,
  allowed: readonly DType[],
): LaunchArg {
  expectDType(kernel, name, view, allowed);
  return { i32: FUSED_DTYPE_CODES[view.dtype]! };
}

/** Throws naming `kernel`/`name` unless `view` holds one of `allowed` (the primitives' check, with a list). */
export function expectDType(kernel: string, name: string, view: TensorView, allowed: readonly DType[]): void {
  expectOneOf(kernel, name, view, ...allowed);
}

/** Throws naming `kernel`/`name` unless `view` has exactly `shape` (-1 matches any size). */
export { expectShape } from '../kernels/kernel-context.js';

/** The device address of a contiguous `view`; throws naming `kernel`/`name` for a strided or foreign view. */
export function pointerArg(kernel: string, name: string, view: TensorView): LaunchArg {
  if (!isContiguous(view)) {
    throw new KernelArgumentError(
      kernel,
      `${name} must be contiguous, got shape ${formatShape(view.shape)} strides ${formatShape(view.strides)}`,
    );
  }
  try {
    return { ptr: devicePointer(view, name) };
  } catch (error) {
    throw new KernelArgumentError(kernel, (error as Error).message);
  }
}

/**
 * The sizes of `view`, which must be of the rank `layout` names (e.g. `[S, H, C+R]`, one letter group per
 * dimension); throws naming `kernel`/`name`, the layout and the rank it got.
 */
export function dims(kernel: string, name: string, view: TensorView, layout: string): number[] {
  const rank = layout.split(',').length;
  if (view.shape.length !== rank)
    throw new KernelArgumentError(kernel, `${name} must be ${layout}, got rank ${view.shape.length}`);
  return [...view.shape];
}

/** A null device pointer (an absent optional tensor). */
export const NULL_POINTER: LaunchArg = { ptr: 0n };

/** Throws naming `kernel`/`name` unless `value` is an integer in [min, max]. */
export function expectInteger(kernel: string, name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new KernelArgumentError(kernel, `${name} = ${value} must be an integer in [${min}, ${max}]`);
  }
}
