import type { BufferHandle, DType, TensorView } from '@dsa/tensor';
import type { FusedKernelName, FusedKernels } from './fused-kernels.js';
import type { Kernels } from './kernels.js';

/** Version of this contract. A backend built for another version is refused at load. */
export const SPECIFICATION_VERSION = 'v1';

/** The backends dsa knows by name. */
export type BackendName = 'reference' | 'cpu' | 'cuda' | 'ascend';

/** What a backend runs on. */
export interface DeviceInfo {
  /** `"reference"`, `"cpu"`, `"cuda:0"`, `"ascend:1"`. */
  readonly id: string;
  /** Human-readable: CPU model and ISA, GPU name and compute capability. */
  readonly description: string;
  /** Total device memory in bytes. */
  readonly memoryTotalBytes: number;
  /** Device memory free at creation, in bytes. */
  readonly memoryFreeBytes: number;
}

/** What an allocation is for; backends may place them differently. */
export type BufferUsage = 'weights' | 'kv-cache' | 'activations';

/** Device memory owned by the backend. The caller holds the handle and disposes it. */
export interface DeviceBuffer extends BufferHandle {
  /** What the allocation holds (weights, KV cache or activations). */
  readonly usage: BufferUsage;
  /** Frees the memory; the handle must not be used afterwards. */
  dispose(): void;
}

/** An ordered queue of device work. */
export interface Stream {
  /** Backend-unique id of this stream. */
  readonly id: number;
}

/** What a backend can do beyond the required kernels. */
export interface Capabilities {
  /** Element types its kernels accept for weights and activations. */
  readonly dtypes: ReadonlySet<DType>;
  /**
   * Weight dtypes `linear` and `moeExperts` accept; absent means f32, bf16, f16 and f8_e4m3 (with block
   * scales). `i8` with 1x32 block scales is GGUF Q8_0, run without dequantizing.
   */
  readonly linearWeightDtypes?: ReadonlySet<DType>;
  /** Supports {@link Backend.captureGraph}. */
  readonly graphCapture: boolean;
  /** Uploads and downloads overlap with compute. */
  readonly asyncCopy: boolean;
  /** Fused kernels present in {@link Backend.fused}. */
  readonly fused: ReadonlySet<FusedKernelName>;
  /**
   * Optional. A latent-cache row format narrower than f32 that `mlaAttention` reads with exactly the results
   * of f32 rows, because it rounds every row to that format before its products anyway (the cpu backend's
   * bf16 precision: `bf16`). Runtimes default to it when the caller names no format: the same logits at half
   * the cache's memory and bytes read per attended token.
   */
  readonly exactLatentCache?: 'bf16';
}

/** A recorded sequence of kernel launches that can be replayed with one call. */
export interface CapturedGraph {
  /** Re-enqueues the recorded kernel launches on `stream` (default: the stream it was captured on). */
  replay(stream?: Stream): void;
  /** Frees the graph; it must not be replayed afterwards. */
  dispose(): void;
}

/** Device time of one kernel name over a profiled interval (see {@link KernelProfile}). */
export interface KernelTime {
  /** Kernel name as launched (a backend may add entries such as `graph` for a whole graph replay). */
  readonly name: string;
  /** Launches timed. */
  readonly count: number;
  /** Summed device milliseconds of those launches. */
  readonly ms: number;
}

/**
 * Per-kernel device times a backend collects while asked to: the CUDA backend's `profile` setting (CUDA
 * events), the CPU backend's queue from the first `reset()` on (executor wall time inside kernel bodies).
 */
export interface KernelProfile {
  /** Forgets what was timed so far. */
  reset(): void;
  /** What was timed since the last reset, most time first (waits for the device where it must). */
  read(): readonly KernelTime[];
}

/** The CPU kernel set a backend runs and its worker threads (for peak-FLOP estimates). */
export interface ComputeInfo {
  /** Kernel set, e.g. `AVX-512` (names `dsa bench`'s peak model knows: portable, AVX2, AVX-512, AVX-512-BF16). */
  readonly isa: string;
  /** Worker threads the kernels use. */
  readonly threads: number;
}

/**
 * Optional diagnostics a backend may offer, for benchmarks and tools (absent = not offered; the model
 * never needs them).
 */
export interface BackendDiagnostics {
  /**
   * Memory bandwidth in GB/s (10⁹ B/s) the backend measures over at least `bytes` (synchronous; the
   * backend documents what it counts: a read sweep on CPUs, read + written bytes of a copy on GPUs).
   */
  memoryReadBandwidth?(bytes: number): number;
  /**
   * Peak f32 FMA rate in GFLOP/s (an FMA is two FLOPs) the backend measures with its kernels' widest FMA on its
   * threads (synchronous): what prefill and batched-decode GFLOP/s are a fraction of. Where the matrix kernels
   * use another instruction (the cpu backend's bf16 precision: `vdpbf16ps`, two multiply-adds per lane), the
   * peak of that one.
   */
  fmaPeak?(): number;
  /** Per-kernel device times, when the backend was created to collect them (null otherwise). */
  readonly kernelProfile?: KernelProfile | null;
  /** The CPU kernel set and threads, for CPU backends. */
  readonly compute?: ComputeInfo;
}

/**
 * The backend contract. A backend owns device memory (callers hold {@link DeviceBuffer} handles),
 * kernels enqueue work and return nothing, and the only device→host path is {@link Backend.download}.
 */
export interface Backend extends BackendDiagnostics {
  /** Contract version this backend implements; must equal {@link SPECIFICATION_VERSION}. */
  readonly specificationVersion: typeof SPECIFICATION_VERSION;
  /** Which backend this is. */
  readonly name: BackendName;
  /** The device it runs on. */
  readonly device: DeviceInfo;
  /** What it supports beyond the required kernels. */
  readonly capabilities: Capabilities;

  /** Allocates `byteLength` bytes of device memory (contents undefined). */
  allocate(byteLength: number, usage: BufferUsage): DeviceBuffer;
  /** Enqueues a host→device copy into a contiguous view. `source` must hold exactly the view's bytes. */
  upload(destination: TensorView, source: ArrayBufferView, stream?: Stream): void;
  /** Copies a contiguous view to the host once all work before it has finished. The only device→host path. */
  download(source: TensorView, destination: ArrayBufferView, stream?: Stream): Promise<void>;
  /** Enqueues a device→device copy between views of equal shape and dtype (any strides). */
  copy(destination: TensorView, source: TensorView, stream?: Stream): void;

  /** Creates a new ordered work queue. */
  createStream(): Stream;
  /** Resolves when all work enqueued on `stream` (default: every stream) has finished. */
  synchronize(stream?: Stream): Promise<void>;

  /** The required primitive kernels. */
  readonly kernels: Kernels;
  /** The optional fused kernels this backend implements (see `capabilities.fused`). */
  readonly fused: Partial<FusedKernels>;

  /** Records the kernels `record` enqueues into a graph (CUDA graphs, ACL graphs), if supported. */
  captureGraph?(stream: Stream, record: () => void): CapturedGraph;

  /** Frees everything the backend owns. */
  dispose(): void;
}

/** Options for {@link BackendFactory.create}. */
export interface BackendOptions {
  /** Device ordinal for multi-device backends (`cuda:1` → 1). */
  readonly deviceIndex?: number;
  /** Worker threads for CPU backends (default: all cores). */
  readonly threads?: number;
  /** Free-form backend-specific settings. */
  readonly settings?: Readonly<Record<string, unknown>>;
}

/** What every backend package exports as its default export. */
export interface BackendFactory {
  /** Name of the backend this factory creates. */
  readonly name: BackendName;
  /** Contract version the backend implements; must equal {@link SPECIFICATION_VERSION}. */
  readonly specificationVersion: typeof SPECIFICATION_VERSION;
  /**
   * How well this backend fits the machine: 0 = unusable here (with `reason`), higher wins `auto`.
   * Must not crash the process when drivers are missing.
   */
  probe(): Promise<{
    /** Fitness for this machine: 0 = unusable, higher wins `auto`. */
    score: number;
    /** Why it scored as it did, e.g. what is missing. */
    reason: string;
  }>;
  /** Creates the backend on this machine; rejects with `BackendUnavailableError` if it cannot run. */
  create(options?: BackendOptions): Promise<Backend>;
}
