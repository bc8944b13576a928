import {
  type Backend,
  type BackendOptions,
  type BufferUsage,
  type Capabilities,
  type DeviceBuffer,
  type DeviceInfo,
  type FusedKernelName,
  type FusedKernels,
  KernelArgumentError,
  type Kernels,
  SPECIFICATION_VERSION,
  type Stream,
} from '@dsa/backend';
import { isContiguous, type TensorView, viewByteLength } from '@dsa/tensor';
import type { AclRuntime, AclStream } from './acl-runtime.js';
import { createAscendFused } from './ascend-fused.js';
import { createAscendKernels } from './ascend-kernels.js';
import { createAscendMoe } from './ascend-moe.js';
import { type AscendPrecision, createWeightStore } from './weight-store.js';

/** Settings of the ascend backend (`BackendOptions.settings`). */
export interface AscendBackendSettings {
  /** Receives the backend's one-time notes (fallbacks, host steps); default `console.warn`. */
  readonly log?: (line: string) => void;
  /**
   * Use Huawei's DSA operators for the fused kernels: `indexerTopk` through aclnnLightningIndexer and
   * `mlaAttention` through aclnnSparseFlashAttention (libcust_opapi.so), `moeRoute` through aclnnMoeGatingTopK and
   * `moeExperts` through aclnnMoeInitRoutingV2 + aclnnGroupedMatmulV4. `true` enables all, a list only those
   * named (`'indexerTopK'`, the former spelling, still names `indexerTopk`). Off by default:
   * LightningIndexer and SparseFlashAttention compute in bf16.
   */
  readonly fusedOperators?: boolean | readonly (FusedKernelName | 'indexerTopK')[];
  /**
   * Linear layers: `'bf16'` (default; bf16 activations on the bf16 cube units, the speed setting)
   * or `'exact'` (f32 activations, bf16 weights upcast per call: the f32 contract's numerics).
   * Weights are stored in bf16 either way (fp8 checkpoints dequantized to bf16 once).
   */
  readonly precision?: AscendPrecision;
}

/**
 * The bytes of `host`, the other side of a transfer of the device view `view` (`upload` writes the view,
 * `download` reads it): the view must be contiguous and as long as `host`.
 */
function hostBytes(kernel: 'upload' | 'download', view: TensorView, host: ArrayBufferView): Uint8Array {
  const [viewName, hostName] = kernel === 'upload' ? ['destination', 'source'] : ['source', 'destination'];
  if (!isContiguous(view)) throw new KernelArgumentError(kernel, `${viewName} must be contiguous`);
  if (host.byteLength !== viewByteLength(view))
    throw new KernelArgumentError(
      kernel,
      `${hostName} has ${host.byteLength} bytes, the view ${viewByteLength(view)}`,
    );
  return new Uint8Array(host.buffer, host.byteOffset, host.byteLength);
}

/** The Ascend backend: device memory and streams from the CANN runtime, kernels from aclnn operators. */
export class AscendBackend implements Backend {
  /** Contract version. */
  readonly specificationVersion = SPECIFICATION_VERSION;
  /** `"ascend"`. */
  readonly name = 'ascend' as const;
  /** The NPU (or the emulator) this backend runs on. */
  readonly device: DeviceInfo;
  /** f32/bf16/f16/fp8 storage; no graph capture; fused kernels only when opted in. */
  readonly capabilities: Capabilities;
  /** The primitive kernels. */
  readonly kernels: Kernels;
  /** Fused kernels (only with `settings.fusedOperators`); absent ones use the composite fallbacks. */
  readonly fused: Partial<FusedKernels>;
  private readonly rt: AclRuntime;
  private readonly streams = new Map<number, AclStream>();

  constructor(rt: AclRuntime, options: BackendOptions = {}) {
    this.rt = rt;
    const settings = (options.settings ?? {}) as AscendBackendSettings;
    const log = settings.log ?? ((line: string) => console.warn(line));
    const memory = rt.memoryInfo();
    this.device = {
      id: rt.device,
      description: `${String(rt.api.runtime.aclrtGetSocName() ?? 'Ascend NPU')} via ${rt.directory}`,
      memoryTotalBytes: memory.total,
      memoryFreeBytes: memory.free,
    };
    this.capabilities = {
      dtypes: new Set(['f32', 'bf16', 'f16', 'f8_e4m3', 'i32', 'i64', 'i8', 'u8']),
      graphCapture: false,
      asyncCopy: true,
      fused: new Set(),
    };
    const precision = settings.precision ?? 'bf16';
    if (precision !== 'bf16' && precision !== 'exact')
      throw new KernelArgumentError('settings.precision', `'${String(precision)}' is not 'bf16' or 'exact'`);
    const store = createWeightStore(rt, log);
    this.kernels = createAscendKernels(rt, log, store, precision);
    this.fused = {};
    const wanted = (name: FusedKernelName) =>
      settings.fusedOperators === true ||
      (Array.isArray(settings.fusedOperators) &&
        settings.fusedOperators.some((n) => (n === 'indexerTopK' ? 'indexerTopk' : n) === name));
    if (wanted('indexerTopk') || wanted('mlaAttention')) {
      const ops = rt.api.operators;
      if (ops.LightningIndexer && ops.SparseFlashAttention) {
        const dsa = createAscendFused(rt, this.kernels, log);
        if (wanted('indexerTopk')) this.fused.indexerTopk = dsa.indexerTopk!;
        if (wanted('mlaAttention')) this.fused.mlaAttention = dsa.mlaAttention!;
      } else
        log(
          'ascend: aclnnLightningIndexer/aclnnSparseFlashAttention not found (no libcust_opapi.so); indexerTopk and mlaAttention use the composite fallbacks',
        );
    }
    if (wanted('moeRoute') || wanted('moeExperts')) {
      const ops = rt.api.operators;
      const moe = createAscendMoe(rt, this, store, precision, log);
      if (wanted('moeRoute') && ops.MoeGatingTopK) this.fused.moeRoute = moe.moeRoute;
      else if (wanted('moeRoute'))
        log('ascend: aclnnMoeGatingTopK not found; moeRoute uses the composite fallback');
      if (wanted('moeExperts') && ops.MoeInitRoutingV2 && ops.GroupedMatmulV4)
        this.fused.moeExperts = moe.moeExperts;
      else if (wanted('moeExperts'))
        log(
          'ascend: aclnnMoeInitRoutingV2/aclnnGroupedMatmulV4 not found; moeExperts uses the composite fallback',
        );
    }
    this.capabilities = {
      ...this.capabilities,
      fused: new Set(Object.keys(this.fused) as FusedKernelName[]),
    };
    this.streams.set(rt.compute.id, rt.compute);
    if (rt.api.missing.length > 0)
      log(`ascend: operators missing from the loaded libraries: ${rt.api.missing.join(', ')}`);
  }

  private stream(stream?: Stream): AclStream {
    if (!stream) return this.rt.compute;
    const found = this.streams.get(stream.id);
    if (!found)
      throw new KernelArgumentError('stream', `stream ${stream.id} was not created by this backend`);
    return found;
  }

  /** `aclrtMalloc`. */
  allocate(byteLength: number, usage: BufferUsage): DeviceBuffer {
    return this.rt.allocate(byteLength, usage);
  }

  /** Staged through pinned memory and `aclrtMemcpyAsync`. */
  upload(destination: TensorView, source: ArrayBufferView, stream?: Stream): void {
    this.rt.upload(destination, hostBytes('upload', destination, source), this.stream(stream));
  }

  /** Waits for queued work, then `aclrtMemcpy` device → host. */
  async download(source: TensorView, destination: ArrayBufferView, stream?: Stream): Promise<void> {
    this.stream(stream);
    this.rt.readNow(source, hostBytes('download', source, destination));
  }

  /** `aclnnInplaceCopy` (any strides). */
  copy(destination: TensorView, source: TensorView, stream?: Stream): void {
    if (destination.dtype !== source.dtype || destination.shape.join() !== source.shape.join())
      throw new KernelArgumentError('copy', 'destination and source must have the same shape and dtype');
    this.rt.run('InplaceCopy', [destination, source], this.stream(stream));
  }

  /** `aclrtCreateStream`. */
  createStream(): Stream {
    const stream = this.rt.createStream();
    this.streams.set(stream.id, stream);
    return { id: stream.id };
  }

  /** `aclrtSynchronizeStream`, then frees what was released meanwhile. */
  async synchronize(stream?: Stream): Promise<void> {
    this.rt.synchronize(stream ? this.stream(stream) : undefined);
  }

  /** Frees every buffer and stream. */
  dispose(): void {
    this.rt.dispose();
  }
}
