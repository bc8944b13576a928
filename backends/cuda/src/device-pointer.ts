import { KernelArgumentError } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';
import { CudaBuffer } from './cuda-buffer.js';

/**
 * The device address of element `[0, ..., 0]` of `view`: its buffer's base address plus the view's
 * byte offset. Throws for a view that is not backed by a live CUDA buffer.
 */
export function devicePointer(view: TensorView, name = 'tensor'): bigint {
  const buffer = view.buffer;
  if (!(buffer instanceof CudaBuffer)) {
    throw new KernelArgumentError(
      'devicePointer',
      `${name} lives on device "${buffer.device}", not on a CUDA backend`,
    );
  }
  if (buffer.isDisposed)
    throw new KernelArgumentError('devicePointer', `${name}: its CUDA buffer was disposed`);
  return buffer.address + BigInt(view.byteOffset);
}
