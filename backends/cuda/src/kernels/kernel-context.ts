import { KernelArgumentError, type LinearWeight } from '@dsa/backend';
import { type DType, formatShape, type Shape, type TensorView } from '@dsa/tensor';
import type { CublasLt } from '../cublas-lt.js';
import type { CudaSettings } from '../cuda-settings.js';
import type { Dim3, LaunchArg } from '../launch.js';

/** What the primitive kernel wrappers need from the backend. */
export interface KernelContext {
  /** Launches a kernel of the fatbin on the current stream. */
  launch(kernel: string, grid: Dim3, block: Dim3, args: readonly LaunchArg[], sharedBytes?: number): void;
  /** A grow-only device scratch area named `name` of at least `bytes` bytes (valid until the next call with that name). */
  scratch(name: string, bytes: number): bigint;
  /** Enqueues a host→device copy of `bytes` into a grow-only device area named `name`; returns its address. */
  stage(name: string, bytes: Uint8Array): bigint;
  /** Streaming multiprocessors of the device (sizes grid-stride launches). */
  readonly multiprocessors: number;
  /**
   * An optional decode GEMV tried before the general `linear` kernel (the fused helper's `fastLinear`,
   * on unless the setting `fusedGemv` is false); returns false when it does not apply.
   */
  readonly fastLinear?: (out: TensorView, x: TensorView, weight: LinearWeight) => boolean;
  /** cuBLASLt (opened on first use; null when absent or the setting `cublasLt` is false) for prefill GEMMs. */
  readonly cublasLt?: () => CublasLt | null;
  /** The stream kernels are enqueued on right now (cuBLASLt calls go there too). */
  readonly stream?: () => bigint;
  /** The backend's settings (prefill GEMM switches); absent: the defaults. */
  readonly settings?: Pick<CudaSettings, 'gemm' | 'gemmFast' | 'gemmStagingBytes'>;
}

/** Threads per block of the element-wise kernels. */
export const ELEMENTWISE_THREADS = 256;

/** A 1-D grid for `n` elements of a grid-stride kernel: enough blocks to fill the device, no more than needed. */
export function gridFor(context: KernelContext, n: number, threads = ELEMENTWISE_THREADS): Dim3 {
  const needed = Math.max(1, Math.ceil(n / threads));
  return [Math.min(needed, context.multiprocessors * 32), 1, 1];
}

/** A 1-D grid with one block per row (grid-stride beyond 65535·32 rows). */
export function rowGrid(rows: number): Dim3 {
  return [Math.max(1, Math.min(rows, 2 ** 31 - 1)), 1, 1];
}

/** Throws unless `view` has rank `rank`. */
export function expectRank(kernel: string, name: string, view: TensorView, rank: number): void {
  if (view.shape.length !== rank) {
    throw new KernelArgumentError(kernel, `${name} must have rank ${rank}, got ${formatShape(view.shape)}`);
  }
}

/** Throws unless `view` has exactly `shape` (-1 matches any size). */
export function expectShape(kernel: string, name: string, view: TensorView, shape: Shape): void {
  const ok = view.shape.length === shape.length && shape.every((d, i) => d === -1 || d === view.shape[i]);
  if (!ok) {
    throw new KernelArgumentError(
      kernel,
      `${name} has shape ${formatShape(view.shape)}, expected [${shape.map((d) => (d === -1 ? '*' : d)).join(', ')}]`,
    );
  }
}

/** Throws unless `view` holds one of `dtypes`. */
export function expectDType(kernel: string, name: string, view: TensorView, ...dtypes: DType[]): void {
  if (!dtypes.includes(view.dtype)) {
    throw new KernelArgumentError(kernel, `${name} must be ${dtypes.join(' or ')}, got ${view.dtype}`);
  }
}

/** Throws unless the last dimension of `view` is dense (stride 1) or of size 1. */
export function expectDenseLast(kernel: string, name: string, view: TensorView): void {
  const rank = view.shape.length;
  if (rank > 0 && view.shape[rank - 1]! > 1 && view.strides[rank - 1] !== 1) {
    throw new KernelArgumentError(
      kernel,
      `${name}: the last dimension must be dense (stride 1), got strides [${view.strides.join(', ')}]`,
    );
  }
}

/** Throws unless `a` and `b` have equal shapes. */
export function expectSameShape(kernel: string, names: string, a: TensorView, b: TensorView): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new KernelArgumentError(
      kernel,
      `${names} differ in shape: ${formatShape(a.shape)} vs ${formatShape(b.shape)}`,
    );
  }
}

/** Number of elements of `view`. */
export function count(view: TensorView): number {
  return view.shape.reduce((a, b) => a * b, 1);
}

/** Elements of `view` before its last dimension, i.e. its rows. */
export function rowsOf(view: TensorView): number {
  return view.shape.slice(0, -1).reduce((a, b) => a * b, 1);
}
