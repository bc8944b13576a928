import {
  type Backend,
  type BackendOptions,
  type BufferUsage,
  type Capabilities,
  type CapturedGraph,
  type DeviceInfo,
  type FusedKernelName,
  type FusedKernels,
  KernelArgumentError,
  type Kernels,
  type LinearWeight,
  SPECIFICATION_VERSION,
  type Stream,
  Workspace,
} from '@dsa/backend';
import { formatShape, isContiguous, sameShape, type TensorView, viewByteLength } from '@dsa/tensor';
import { CublasLt } from './cublas-lt.js';
import { CudaBuffer } from './cuda-buffer.js';
import {
  CU_DEVICE_ATTRIBUTE,
  CUDA_ERROR_INVALID_CONTEXT,
  CUDA_ERROR_NOT_READY,
  CUDA_SUCCESS,
  type CudaDriver,
  out64,
} from './cuda-driver.js';
import { CudaError } from './cuda-error.js';
import { captureCudaGraph } from './cuda-graph.js';
import { CudaModule } from './cuda-module.js';
import { type CudaSettings, cudaSettings } from './cuda-settings.js';
import { devicePointer } from './device-pointer.js';
import { fastLinear, fusedKernels } from './fused/index.js';
import type { KernelBinary } from './kernel-binary.js';
import { KernelProfile } from './kernel-profile.js';
import { createKernels, type KernelContext, stridedCopy } from './kernels/index.js';
import type { Dim3, KernelLauncher, LaunchArg } from './launch.js';
import { PinnedStaging } from './pinned-staging.js';

const CU_STREAM_NON_BLOCKING = 1;
const CU_EVENT_DISABLE_TIMING = 2;

/**
 * The CUDA backend: device memory from cuMemAlloc, our nvcc-built kernels launched through the driver
 * API (koffi), uploads through a pinned ring, downloads awaited on a worker thread so the event loop
 * never blocks. Kernels run on the compute stream (stream id 0) unless a graph capture redirects them.
 */
export class CudaBackend implements Backend {
  /** The backend contract version this backend implements (`v1`). */
  readonly specificationVersion = SPECIFICATION_VERSION;
  readonly name = 'cuda' as const;
  readonly device: DeviceInfo;
  readonly capabilities: Capabilities;
  readonly kernels: Kernels;
  readonly fused: Partial<FusedKernels>;
  /** Launches kernels of the fatbin on the current stream (for fused kernels and tools). */
  readonly launcher: KernelLauncher;
  /** Scratch memory for activations (bump allocator, reset between steps). */
  readonly workspace: Workspace;
  /** What the primitive kernels and copies launch through; built once (it reads the current stream when called). */
  private readonly launchContext: KernelContext;
  /** Device ordinal. */
  readonly deviceIndex: number;
  /** Compute capability, e.g. `[9, 0]`. */
  readonly computeCapability: readonly [number, number];
  /** Streaming multiprocessors. */
  readonly multiprocessors: number;
  /** The driver bindings. */
  readonly driver: CudaDriver;
  /** The fatbin the kernels come from. */
  readonly binary: KernelBinary;
  /** The settings this backend was created with (`createBackend({ settings })`, `DSA_CUDA_*` overrides). */
  readonly settings: CudaSettings;

  private readonly module: CudaModule;
  private readonly staging: PinnedStaging;
  private readonly computeStream: bigint;
  private readonly streams = new Map<number, bigint>();
  private readonly buffers = new Set<CudaBuffer>();
  private readonly scratchAreas = new Map<string, CudaBuffer>();
  private readonly context: bigint;
  private capturing = false;
  private pollEvents = false;
  private disposed = false;
  private nextStream = 1;
  private lt: CublasLt | null | undefined;
  /**
   * Per-kernel GPU time from CUDA events when the setting `profile` is on (null otherwise): every launch, cuBLASLt
   * GEMM and graph replay outside a capture is timed. `dsa bench` reads it for its kernel table and
   * GPU-time fields.
   */
  readonly kernelProfile: KernelProfile | null;
  /** linear / matmul with M > 16 use cuBLASLt when it loads; false forces dsa_gemm_mma (checks). */
  preferCublasLt = true;

  constructor(
    driver: CudaDriver,
    binary: KernelBinary,
    options: BackendOptions = {},
    settings: CudaSettings = cudaSettings(options.settings),
  ) {
    this.driver = driver;
    this.binary = binary;
    this.settings = settings;
    this.deviceIndex = options.deviceIndex ?? 0;
    const device = new Int32Array(1);
    driver.call('cuDeviceGet', device, this.deviceIndex);
    const context = out64();
    driver.call('cuDevicePrimaryCtxRetain', context, device[0]);
    this.context = context[0]!;
    driver.call('cuCtxSetCurrent', this.context);
    const attribute = (id: number) => {
      const value = new Int32Array(1);
      driver.call('cuDeviceGetAttribute', value, id, device[0]);
      return value[0]!;
    };
    this.computeCapability = [
      attribute(CU_DEVICE_ATTRIBUTE.computeCapabilityMajor),
      attribute(CU_DEVICE_ATTRIBUTE.computeCapabilityMinor),
    ];
    this.multiprocessors = attribute(CU_DEVICE_ATTRIBUTE.multiprocessorCount);
    const nameBytes = new Uint8Array(256);
    driver.call('cuDeviceGetName', nameBytes, nameBytes.length, device[0]);
    const name = new TextDecoder().decode(nameBytes.subarray(0, nameBytes.indexOf(0)));
    const free = out64();
    const total = out64();
    driver.call('cuMemGetInfo_v2', free, total);
    const cc = this.computeCapability.join('.');
    this.device = {
      id: `cuda:${this.deviceIndex}`,
      description: `${name} (sm_${cc.replace('.', '')}, ${this.multiprocessors} SMs, driver ${driver.version}, kernels ${binary.archs.join('/') || 'unknown archs'})`,
      memoryTotalBytes: Number(total[0]),
      memoryFreeBytes: Number(free[0]),
    };
    const stream = out64();
    driver.call('cuStreamCreate', stream, CU_STREAM_NON_BLOCKING);
    this.computeStream = stream[0]!;
    this.streams.set(0, this.computeStream);
    // Architecture-specific modules (kernels/sm90a → `sm_90a`) load only on their own compute capability.
    const arch = `sm_${this.computeCapability[0]}${this.computeCapability[1]}${this.computeCapability[0] === 9 ? 'a' : ''}`;
    this.module = new CudaModule(
      driver,
      binary.image,
      binary.kernels,
      this.computeStream,
      binary.modules.filter((m) => m.arch === arch),
    );
    this.launcher = this.module;
    this.module.syncEachLaunch = settings.syncLaunches;
    this.kernelProfile = settings.profile ? new KernelProfile(driver, settings.profileLeadMs) : null;
    this.module.profile = this.kernelProfile;
    this.staging = new PinnedStaging(driver);
    this.workspace = new Workspace(this);
    this.launchContext = this.kernelContext();
    this.kernels = createKernels(this.launchContext);
    this.fused = (fusedKernels as (backend: CudaBackend) => Partial<FusedKernels>)(this);
    this.capabilities = {
      dtypes: new Set(['f32', 'bf16', 'f16', 'f8_e4m3', 'i32']),
      graphCapture: true,
      asyncCopy: true,
      fused: new Set(Object.keys(this.fused) as FusedKernelName[]),
    };
  }

  /** The stream kernels are launched on right now (the capture stream while capturing). */
  get currentStream(): bigint {
    return this.module.stream;
  }

  allocate(byteLength: number, usage: BufferUsage): CudaBuffer {
    if (!Number.isInteger(byteLength) || byteLength < 0) {
      throw new KernelArgumentError('allocate', `byte length ${byteLength} is not a non-negative integer`);
    }
    let address = 0n;
    if (byteLength > 0) {
      const out = out64();
      const result = this.driver.raw('cuMemAlloc_v2', out, byteLength);
      if (result !== 0) {
        const free = out64();
        const total = out64();
        this.driver.raw('cuMemGetInfo_v2', free, total);
        this.driver.check(
          'cuMemAlloc_v2',
          result,
          `${byteLength} bytes for ${usage}; ${free[0]} of ${total[0]} bytes free on ${this.device.id}`,
        );
      }
      address = out[0]!;
      // Caches and activations start zeroed (as on the cpu backend); weights are overwritten by upload.
      if (usage !== 'weights')
        this.driver.call('cuMemsetD8Async', address, 0, byteLength, this.module.stream);
    }
    const buffer = new CudaBuffer(this.device.id, address, byteLength, usage, (a) => {
      this.buffers.delete(buffer);
      if (!this.disposed) this.driver.raw('cuMemFree_v2', a);
    });
    this.buffers.add(buffer);
    return buffer;
  }

  upload(destination: TensorView, source: ArrayBufferView, stream?: Stream): void {
    this.expectTransferView('upload', destination, 'destination');
    const bytes = viewByteLength(destination);
    if (source.byteLength !== bytes) {
      throw new KernelArgumentError(
        'upload',
        `source has ${source.byteLength} bytes, destination ${destination.dtype}${formatShape(destination.shape)} needs ${bytes}`,
      );
    }
    if (this.capturing) {
      throw new KernelArgumentError(
        'upload',
        'cannot upload while a CUDA graph is being captured; upload before capture',
      );
    }
    if (bytes === 0) return;
    this.staging.upload(
      devicePointer(destination, 'destination'),
      new Uint8Array(source.buffer, source.byteOffset, source.byteLength),
      stream ? this.stream(stream) : this.module.stream,
    );
  }

  async download(source: TensorView, destination: ArrayBufferView, stream?: Stream): Promise<void> {
    this.expectTransferView('download', source, 'source');
    const bytes = viewByteLength(source);
    if (destination.byteLength !== bytes) {
      throw new KernelArgumentError(
        'download',
        `destination has ${destination.byteLength} bytes, source needs ${bytes}`,
      );
    }
    if (this.capturing)
      throw new KernelArgumentError('download', 'cannot download while a CUDA graph is being captured');
    if (bytes === 0) return;
    const on = stream ? this.stream(stream) : this.module.stream;
    const block = this.staging.take(bytes);
    const event = out64();
    try {
      this.driver.call('cuMemcpyDtoHAsync_v2', block.address, devicePointer(source, 'source'), bytes, on);
      this.driver.call('cuEventCreate', event, CU_EVENT_DISABLE_TIMING);
      this.driver.call('cuEventRecord', event[0]!, on);
      const launches = this.module.launches;
      await this.waitEvent(event[0]!);
      new Uint8Array(destination.buffer, destination.byteOffset, bytes).set(block.bytes.subarray(0, bytes));
      this.settleWorkspace(launches);
    } finally {
      if (event[0]) this.driver.raw('cuEventDestroy_v2', event[0]);
      this.staging.release(block);
    }
  }

  copy(destination: TensorView, source: TensorView, stream?: Stream): void {
    if (destination.dtype !== source.dtype || !sameShape(destination.shape, source.shape)) {
      throw new KernelArgumentError(
        'copy',
        `destination ${destination.dtype}${formatShape(destination.shape)} and source ${source.dtype}${formatShape(source.shape)} differ`,
      );
    }
    const bytes = viewByteLength(source);
    if (bytes === 0) return;
    const on = stream ? this.stream(stream) : this.module.stream;
    if (isContiguous(destination) && isContiguous(source)) {
      this.driver.call(
        'cuMemcpyDtoDAsync_v2',
        devicePointer(destination, 'destination'),
        devicePointer(source, 'source'),
        bytes,
        on,
      );
      return;
    }
    this.onStream(on, () => stridedCopy(this.launchContext, destination, source));
  }

  createStream(): Stream {
    const stream = out64();
    this.driver.call('cuStreamCreate', stream, CU_STREAM_NON_BLOCKING);
    const id = this.nextStream++;
    this.streams.set(id, stream[0]!);
    return { id };
  }

  async synchronize(stream?: Stream): Promise<void> {
    const targets = stream ? [this.stream(stream)] : [...this.streams.values()];
    const launches = this.module.launches;
    for (const s of targets) {
      const event = out64();
      this.driver.call('cuEventCreate', event, CU_EVENT_DISABLE_TIMING);
      try {
        this.driver.call('cuEventRecord', event[0]!, s);
        await this.waitEvent(event[0]!);
      } finally {
        this.driver.raw('cuEventDestroy_v2', event[0]!);
      }
    }
    if (!stream) this.settleWorkspace(launches);
  }

  /**
   * The fused kernels take scratch from {@link CudaBackend.workspace} with mark/rewind; what spilled
   * past its arena is freed, and the arena grown to the high-water mark, once the GPU is idle: after a
   * wait that no launch has followed (`launches` is the launch count when the waited-for event was
   * recorded). Steady-state steps then allocate nothing.
   */
  private settleWorkspace(launches: number): void {
    if (this.capturing || this.module.launches !== launches || !this.workspace.overflowed) return;
    if (this.workspace.used !== 0) return;
    this.workspace.reset();
  }

  /**
   * Resolves once `event` has completed without blocking the event loop: cuEventSynchronize on a koffi
   * worker thread, or, if the driver refuses that thread (no current context), polling cuEventQuery.
   */
  private async waitEvent(event: bigint): Promise<void> {
    if (this.kernelProfile) this.kernelProfile.idle = true;
    if (this.driver.raw('cuEventQuery', event) === CUDA_SUCCESS) return;
    if (!this.pollEvents) {
      try {
        await this.driver.callAsync('cuEventSynchronize', event);
        return;
      } catch (error) {
        if (!(error instanceof CudaError) || error.result !== CUDA_ERROR_INVALID_CONTEXT) throw error;
        this.pollEvents = true;
      }
    }
    for (let spins = 0; ; spins++) {
      const result = this.driver.raw('cuEventQuery', event);
      if (result === CUDA_SUCCESS) return;
      if (result !== CUDA_ERROR_NOT_READY) this.driver.check('cuEventQuery', result);
      await new Promise((resolve) => (spins < 100 ? setImmediate(resolve) : setTimeout(resolve, 1)));
    }
  }

  captureGraph(stream: Stream, record: () => void): CapturedGraph {
    if (this.capturing) throw new KernelArgumentError('captureGraph', 'a capture is already in progress');
    this.capturing = true;
    try {
      const graph = captureCudaGraph(
        this.driver,
        this.stream(stream),
        (s) => (s ? this.stream(s) : this.computeStream),
        (s) => {
          this.module.stream = s ?? this.computeStream;
          this.module.syncEachLaunch = s === null && this.settings.syncLaunches;
          this.profiling(s === null);
        },
        record,
      );
      const profile = this.kernelProfile;
      if (!profile) return graph;
      return {
        replay: (on?: Stream) => {
          const s = on ? this.stream(on) : this.stream(stream);
          profile.time('graph', s, () => graph.replay(on));
        },
        dispose: () => graph.dispose(),
      };
    } finally {
      this.capturing = false;
    }
  }

  /** Turns the kernel profile's timing on or off (off while a graph is captured). */
  private profiling(on: boolean): void {
    const profile = on ? this.kernelProfile : null;
    this.module.profile = profile;
    if (this.lt) this.lt.profile = profile;
  }

  /** Times `run` on the compute stream with CUDA events; resolves to milliseconds. */
  async time(run: () => void): Promise<number> {
    const start = out64();
    const end = out64();
    this.driver.call('cuEventCreate', start, 0);
    this.driver.call('cuEventCreate', end, 0);
    try {
      this.driver.call('cuEventRecord', start[0]!, this.module.stream);
      run();
      this.driver.call('cuEventRecord', end[0]!, this.module.stream);
      await this.waitEvent(end[0]!);
      const ms = new Float32Array(1);
      const name = this.driver.has('cuEventElapsedTime_v2') ? 'cuEventElapsedTime_v2' : 'cuEventElapsedTime';
      this.driver.call(name, ms, start[0]!, end[0]!);
      return ms[0]!;
    } finally {
      this.driver.raw('cuEventDestroy_v2', start[0]!);
      this.driver.raw('cuEventDestroy_v2', end[0]!);
    }
  }

  /**
   * Device-to-device copy bandwidth in GB/s (10⁹ B/s), counting bytes read + bytes written (a copy of
   * B bytes moves 2·B): cuMemcpyDtoDAsync of max(`bytes`, 1 GiB) between two fresh buffers, timed with
   * CUDA events on the compute stream, one warm-up then the median of 5. Synchronous (the bench calls
   * it once, outside the timed steps); the "device-to-device copy bandwidth measured in the
   * same run".
   */
  memoryReadBandwidth(bytes: number): number {
    const size = Math.max(Math.ceil(bytes / 256) * 256, 2 ** 30);
    const source = this.allocate(size, 'activations');
    const destination = this.allocate(size, 'activations');
    const start = out64();
    const end = out64();
    this.driver.call('cuEventCreate', start, 0);
    this.driver.call('cuEventCreate', end, 0);
    try {
      const stream = this.module.stream;
      const times: number[] = [];
      const ms = new Float32Array(1);
      const elapsed = this.driver.has('cuEventElapsedTime_v2')
        ? 'cuEventElapsedTime_v2'
        : 'cuEventElapsedTime';
      for (let i = 0; i < 6; i++) {
        this.driver.call('cuEventRecord', start[0]!, stream);
        this.driver.call('cuMemcpyDtoDAsync_v2', destination.address, source.address, size, stream);
        this.driver.call('cuEventRecord', end[0]!, stream);
        this.driver.call('cuEventSynchronize', end[0]!);
        this.driver.call(elapsed, ms, start[0]!, end[0]!);
        if (i > 0) times.push(ms[0]!);
      }
      times.sort((a, b) => a - b);
      const median = times[times.length >> 1]!;
      return (2 * size) / (median / 1000) / 1e9;
    } finally {
      this.driver.raw('cuEventDestroy_v2', start[0]!);
      this.driver.raw('cuEventDestroy_v2', end[0]!);
      source.dispose();
      destination.dispose();
    }
  }

  /** Launches a kernel of the fatbin on the current stream (see {@link KernelLauncher}). */
  launch(kernel: string, grid: Dim3, block: Dim3, args: readonly LaunchArg[], sharedBytes?: number): void {
    this.module.launch(kernel, grid, block, args, sharedBytes);
  }

  dispose(): void {
    if (this.disposed) return;
    this.workspace.dispose();
    for (const area of this.scratchAreas.values()) area.dispose();
    this.scratchAreas.clear();
    for (const buffer of [...this.buffers]) buffer.dispose();
    this.buffers.clear();
    this.disposed = true;
    this.driver.raw('cuStreamSynchronize', this.computeStream);
    this.kernelProfile?.dispose();
    for (const s of this.streams.values()) this.driver.raw('cuStreamDestroy_v2', s);
    this.staging.dispose();
    this.module.dispose();
    this.driver.raw('cuDevicePrimaryCtxRelease_v2', this.deviceIndex);
  }

  private stream(stream: Stream): bigint {
    const handle = this.streams.get(stream.id);
    if (handle === undefined)
      throw new KernelArgumentError('stream', `stream ${stream.id} was not created by ${this.device.id}`);
    return handle;
  }

  private onStream(stream: bigint, run: () => void): void {
    const previous = this.module.stream;
    this.module.stream = stream;
    try {
      run();
    } finally {
      this.module.stream = previous;
    }
  }

  private expectTransferView(kernel: string, view: TensorView, name: string): void {
    if (!(view.buffer instanceof CudaBuffer)) {
      throw new KernelArgumentError(
        kernel,
        `${name} lives on device "${view.buffer.device}", not on ${this.device.id}`,
      );
    }
    if (!isContiguous(view)) throw new KernelArgumentError(kernel, `${name} view must be contiguous`);
  }

  private kernelContext(): KernelContext {
    const fast = this.settings.fusedGemv
      ? { fastLinear: (out: TensorView, x: TensorView, w: LinearWeight) => fastLinear(this, out, x, w) }
      : {};
    return {
      ...fast,
      launch: (kernel, grid, block, args, sharedBytes) =>
        this.module.launch(kernel, grid, block, args, sharedBytes),
      scratch: (name, bytes) => this.scratchArea(name, bytes).address,
      cublasLt: () => (this.preferCublasLt ? this.cublasLt() : null),
      stream: () => this.module.stream,
      stage: (name, bytes) => {
        const area = this.scratchArea(name, bytes.byteLength);
        if (this.capturing) {
          throw new KernelArgumentError(
            name,
            'needs a host→device upload and cannot run inside a CUDA graph capture',
          );
        }
        this.staging.upload(area.address, bytes, this.module.stream);
        return area.address;
      },
      multiprocessors: this.multiprocessors,
      settings: this.settings,
    };
  }

  /**
   * cuBLASLt for prefill GEMMs, opened on first use (null, logged once, when absent or
   * the setting `cublasLt` is false: linear then uses dsa_gemm_mma).
   */
  cublasLt(): CublasLt | null {
    if (this.lt === undefined) {
      this.lt = CublasLt.open(this.settings);
      if (this.lt) {
        console.error(`[dsa cuda] cuBLASLt: ${this.lt.path}`);
        this.lt.profile = this.capturing ? null : this.kernelProfile;
      } else
        console.error(
          `[dsa cuda] cuBLASLt unavailable (${CublasLt.unavailableReason}); prefill GEMM uses dsa_gemm_mma`,
        );
    }
    return this.lt;
  }

  private scratchArea(name: string, bytes: number): CudaBuffer {
    const current = this.scratchAreas.get(name);
    if (current && current.byteLength >= bytes) return current;
    // The old area may still be read by enqueued kernels: free it only after the stream drains.
    if (current) {
      this.driver.call('cuStreamSynchronize', this.module.stream);
      current.dispose();
    }
    const area = this.allocate(Math.max(bytes, 4096), 'activations');
    this.scratchAreas.set(name, area);
    return area;
  }
}
