import type { TensorView } from '@dsa/tensor';
import { KernelArgumentError } from './errors/kernel-argument-error.js';

/**
 * The buffer behind `view`, checked for kernel `kernel` of the backend `backend`: it must be an instance of
 * that backend's buffer class `type` and not disposed, else a {@link KernelArgumentError} names the device it
 * lives on or says it was disposed.
 */
export function backendBuffer<
  B extends {
    /** True once the buffer was disposed. */
    readonly isDisposed: boolean;
  },
>(kernel: string, view: TensorView, type: abstract new (...args: never[]) => B, backend: string): B {
  const buffer = view.buffer;
  if (!(buffer instanceof type)) {
    throw new KernelArgumentError(
      kernel,
      `tensor lives on device "${buffer.device}", not on the ${backend} backend`,
    );
  }
  if (buffer.isDisposed) throw new KernelArgumentError(kernel, 'tensor buffer was disposed');
  return buffer;
}
