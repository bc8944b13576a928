import os from 'node:os';
import {
  type Backend,
  type BufferUsage,
  type Capabilities,
  type CapturedGraph,
  type DeviceInfo,
  type FusedKernelName,
  type FusedKernels,
  KernelArgumentError,
  type Kernels,
  SPECIFICATION_VERSION,
  type Stream,
} from '@dsa/backend';
import { formatShape, isContiguous, sameShape, type TensorView, viewByteLength } from '@dsa/tensor';
import { binary, cast, fill, unary } from './elementwise.js';
import { dequantizeFp8, quantizeFp8 } from './fp8-quant.js';
import { REFERENCE_FUSED_KERNELS } from './fused-kernels.js';
import { gatherColumns, gatherRows, indexAdd, scatterColumns, scatterRows } from './gather.js';
import { hadamard } from './hadamard.js';
import { linear, matmul } from './matmul.js';
import { layerNorm, rmsNorm } from './norm.js';
import { reduceSum } from './reduce-sum.js';
import { ReferenceBuffer } from './reference-buffer.js';
import { rope } from './rope.js';
import { sample } from './sample.js';
import { softmax } from './softmax.js';
import { bufferOf, read, write } from './strided.js';
import { topk } from './top-k.js';

/** Options of {@link ReferenceBackend}. */
export interface ReferenceBackendOptions {
  /**
   * Also offer the plain-TypeScript fused kernels a captured decode graph needs (`indexerTopk`,
   * `mlaAttention`, `moeExperts`; default false, so the model runs on the composites).
   */
  readonly fused?: boolean;
}

/**
 * The reference backend: every kernel in plain TypeScript over host memory, computing in f64 and
 * storing in the tensors' dtypes. Work runs synchronously at enqueue time, so streams are trivially
 * ordered. By default it implements no fused kernels: the model runs on the core packages' composite
 * fallbacks, which makes it the oracle for every fused kernel of every other backend.
 * {@link ReferenceBackend.captureGraph} records kernel calls as closures and replays them, which is
 * how CI exercises the runtime's captured decode steps.
 */
export class ReferenceBackend implements Backend {
  /** Contract version this backend implements. */
  readonly specificationVersion = SPECIFICATION_VERSION;
  /** Always `reference`. */
  readonly name = 'reference' as const;
  /** The host, with its total and free memory. */
  readonly device: DeviceInfo = {
    id: 'reference',
    description: `reference (TypeScript, ${os.cpus()[0]?.model ?? 'unknown CPU'})`,
    memoryTotalBytes: os.totalmem(),
    memoryFreeBytes: os.freemem(),
  };
  /** Every dtype, graph capture (recorded closures), no async copy, fused kernels only when asked. */
  readonly capabilities: Capabilities;
  readonly fused: Partial<FusedKernels>;
  readonly kernels: Kernels;
  /** The kernel calls of the capture in progress (they are recorded, not run), else null. */
  private recording: (() => void)[] | null = null;
  private nextStream = 1;
  private readonly buffers = new Set<ReferenceBuffer>();

  constructor(options: ReferenceBackendOptions = {}) {
    const fused: Partial<FusedKernels> = options.fused ? REFERENCE_FUSED_KERNELS : {};
    this.kernels = this.enqueued(KERNELS);
    this.fused = this.enqueued(fused);
    this.capabilities = {
      dtypes: new Set(['f32', 'f64', 'bf16', 'f16', 'f8_e4m3', 'i32', 'i64', 'i16', 'i8', 'u8']),
      linearWeightDtypes: new Set(['f32', 'bf16', 'f16', 'f8_e4m3', 'i8']),
      graphCapture: true,
      asyncCopy: false,
      fused: new Set(Object.keys(fused) as FusedKernelName[]),
    };
  }

  /** Wraps each function of `table` so that a call runs now, or is recorded while a graph is captured. */
  private enqueued<T extends object>(table: T): T {
    const wrapped: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(table) as [string, (...args: unknown[]) => void][]) {
      wrapped[name] = (...args: unknown[]) => this.enqueue(() => fn(...args));
    }
    return wrapped as T;
  }

  private refuseWhileCapturing(kernel: string): void {
    if (this.recording)
      throw new KernelArgumentError(
        kernel,
        'cannot run while a graph is being captured; do it before capture',
      );
  }

  private enqueue(run: () => void): void {
    if (this.recording) this.recording.push(run);
    else run();
  }

  /**
   * Records the kernels (and device copies) `record` enqueues, without running them, as a list of
   * closures over the same views; replay runs them again in order, reading whatever the buffers hold
   * then. Uploads and downloads inside `record` are refused, as in a CUDA graph capture.
   */
  captureGraph(_stream: Stream, record: () => void): CapturedGraph {
    if (this.recording) throw new KernelArgumentError('captureGraph', 'a capture is already in progress');
    const calls: (() => void)[] = [];
    this.recording = calls;
    try {
      record();
    } finally {
      this.recording = null;
    }
    let live = true;
    return {
      replay: () => {
        if (!live) throw new KernelArgumentError('captureGraph', 'captured graph was disposed');
        for (const call of calls) call();
      },
      dispose: () => {
        live = false;
        calls.length = 0;
      },
    };
  }

  allocate(byteLength: number, usage: BufferUsage): ReferenceBuffer {
    if (!Number.isInteger(byteLength) || byteLength < 0) {
      throw new KernelArgumentError('allocate', `byte length ${byteLength} is not a non-negative integer`);
    }
    const buffer = new ReferenceBuffer(byteLength, usage);
    this.buffers.add(buffer);
    return buffer;
  }

  upload(destination: TensorView, source: ArrayBufferView): void {
    this.refuseWhileCapturing('upload');
    const buffer = bufferOf(destination, 'upload');
    if (!isContiguous(destination))
      throw new KernelArgumentError('upload', 'destination view must be contiguous');
    const bytes = viewByteLength(destination);
    if (source.byteLength !== bytes) {
      throw new KernelArgumentError(
        'upload',
        `source has ${source.byteLength} bytes, destination ${destination.dtype}${formatShape(destination.shape)} needs ${bytes}`,
      );
    }
    buffer.bytes.set(
      new Uint8Array(source.buffer, source.byteOffset, source.byteLength),
      destination.byteOffset,
    );
  }

  async download(source: TensorView, destination: ArrayBufferView): Promise<void> {
    this.refuseWhileCapturing('download');
    const buffer = bufferOf(source, 'download');
    if (!isContiguous(source)) throw new KernelArgumentError('download', 'source view must be contiguous');
    const bytes = viewByteLength(source);
    if (destination.byteLength !== bytes) {
      throw new KernelArgumentError(
        'download',
        `destination has ${destination.byteLength} bytes, source needs ${bytes}`,
      );
    }
    new Uint8Array(destination.buffer, destination.byteOffset, bytes).set(
      buffer.bytes.subarray(source.byteOffset, source.byteOffset + bytes),
    );
  }

  copy(destination: TensorView, source: TensorView): void {
    if (destination.dtype !== source.dtype || !sameShape(destination.shape, source.shape)) {
      throw new KernelArgumentError(
        'copy',
        `destination ${destination.dtype}${formatShape(destination.shape)} and source ${source.dtype}${formatShape(source.shape)} differ`,
      );
    }
    this.enqueue(() => write(destination, read(source, 'copy'), 'copy'));
  }

  /** Returns a new stream id; all work runs eagerly, so streams only label it. */
  createStream(): Stream {
    return { id: this.nextStream++ };
  }

  async synchronize(): Promise<void> {}

  dispose(): void {
    for (const buffer of this.buffers) buffer.dispose();
    this.buffers.clear();
  }
}

/** The primitive kernels, unwrapped. */
const KERNELS: Kernels = {
  fill,
  cast,
  gatherRows,
  scatterRows,
  indexAdd,
  linear,
  matmul,
  rmsNorm,
  layerNorm,
  rope,
  softmax,
  topk,
  reduceSum,
  gatherColumns,
  scatterColumns,
  unary,
  binary,
  hadamard,
  quantizeFp8,
  dequantizeFp8,
  sample,
};
