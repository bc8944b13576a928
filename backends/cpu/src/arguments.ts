import { KernelArgumentError } from '@dsa/backend';
import type { DType, TensorView } from '@dsa/tensor';
import { CpuBuffer } from './cpu-buffer.js';

/** dtype codes of native/dtype.h. */
export const DTYPE_CODES: Readonly<Record<DType, number>> = {
  f64: 0,
  f32: 1,
  f16: 2,
  bf16: 3,
  f8_e4m3: 4,
  i64: 5,
  i32: 6,
  i16: 7,
  i8: 8,
  u8: 9,
  bool: 10,
};

/** Largest rank a descriptor carries (native kMaxRank). */
export const MAX_RANK = 8;

/**
 * The argument block of one native call: `[queue, threads, isa, ...arguments in call order]`,
 * where a tensor is `[bufferId, byteOffset, dtype, rank, ...shape, ...strides]` (bufferId -1 for
 * none) and queue -1 runs the kernel on the calling thread. One block per backend is reused by
 * every call (the native call decodes it before it returns, and calls never nest).
 */
export class ArgumentBlock {
  private data = new Float64Array(256);
  private length = 0;
  private kernel = '';

  /** Starts a call of `kernel` (named in errors) on `queue` with the execution settings. */
  begin(kernel: string, queue: number, threads: number, isa: number): this {
    this.kernel = kernel;
    this.length = 0;
    return this.number(queue).number(threads).number(isa);
  }

  /** Appends a number (an option, a scalar, a count). */
  number(value: number): this {
    if (this.length === this.data.length) this.grow(this.length + 1);
    this.data[this.length++] = value;
    return this;
  }

  /** A tensor, or "none" for null/undefined. */
  tensor(view: TensorView | null | undefined, name: string): this {
    if (view === null || view === undefined) return this.number(-1);
    const buffer = view.buffer;
    if (!(buffer instanceof CpuBuffer)) {
      throw new KernelArgumentError(
        this.kernel,
        `${name} lives on device "${buffer.device}", not on the cpu backend`,
      );
    }
    if (buffer.isDisposed) throw new KernelArgumentError(this.kernel, `${name}: tensor buffer was disposed`);
    const rank = view.shape.length;
    if (rank > MAX_RANK)
      throw new KernelArgumentError(this.kernel, `${name} has rank ${rank}, above ${MAX_RANK}`);
    const need = this.length + 4 + 2 * rank;
    if (need > this.data.length) this.grow(need);
    const d = this.data;
    let i = this.length;
    d[i++] = buffer.id;
    d[i++] = view.byteOffset;
    d[i++] = DTYPE_CODES[view.dtype];
    d[i++] = rank;
    for (let k = 0; k < rank; k++) d[i++] = view.shape[k]!;
    for (let k = 0; k < rank; k++) d[i++] = view.strides[k]!;
    this.length = i;
    return this;
  }

  /** The block to pass to the native call. */
  get block(): Float64Array {
    return this.data;
  }

  private grow(minimum: number): void {
    let size = this.data.length * 2;
    while (size < minimum) size *= 2;
    const next = new Float64Array(size);
    next.set(this.data.subarray(0, this.length));
    this.data = next;
  }
}
