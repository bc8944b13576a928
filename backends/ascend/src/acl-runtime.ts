import { type BufferUsage, DsaError } from '@dsa/backend';
import { type DType, dtypeBytes, numel, type Shape, type TensorView, tensorView } from '@dsa/tensor';
import { type AclApi, type AclnnOperator, loadAclApi } from './acl-api.js';
import { AscendBuffer } from './ascend-buffer.js';
import { ACL_DTYPES, ACL_FORMAT_ND, MEMCPY } from './dtype-codes.js';
import type { LibraryLookup } from './library-paths.js';

/** An aclnn argument: a tensor view (→ aclTensor), `null` (optional tensor), or a plain value. */
export type AclnnArgument =
  | TensorView
  | null
  | number
  | boolean
  | string
  | { readonly scalar: number }
  | { readonly intArray: readonly number[] }
  | { readonly tensorList: readonly TensorView[] };

/** Work on one ACL stream; `handle` is the `aclrtStream`. */
export interface AclStream {
  /** Backend-unique id. */
  readonly id: number;
  /** The `aclrtStream`. */
  readonly handle: unknown;
}

let shared: { api: AclApi; directory: string } | undefined;

/**
 * The CANN runtime as the backend uses it: initialization (once per process), tracked device
 * memory with frees deferred to the next synchronize, cached tensor descriptors, and the one
 * two-phase aclnn call helper with a pooled workspace.
 */
export class AclRuntime {
  /** The bound C functions. */
  readonly api: AclApi;
  /** Folder the libraries were loaded from. */
  readonly directory: string;
  /** `"ascend:<n>"`. */
  readonly device: string;
  /** The stream kernels run on. */
  readonly compute: AclStream;
  private readonly streams: AclStream[] = [];
  private workspace: { address: number; size: number } = { address: 0, size: 0 };
  private pendingDevice: number[] = [];
  private pendingHost: number[] = [];
  private pendingHandles: { handle: unknown; destroy: (h: unknown) => unknown }[] = [];
  private pendingBuffers: AscendBuffer[] = [];
  private readonly live = new Set<AscendBuffer>();
  private readonly scratchBuffers = new Map<string, AscendBuffer>();
  private nextStream = 1;

  constructor(lookup: Extract<LibraryLookup, { found: true }>, deviceIndex = 0) {
    if (!shared || shared.directory !== lookup.directory) {
      const api = loadAclApi(lookup);
      const status = api.runtime.aclInit(null) as number;
      if (status !== 0 && status !== 100002) this.failWith(api, status, 'aclInit');
      shared = { api, directory: lookup.directory };
    }
    this.api = shared.api;
    this.directory = shared.directory;
    this.device = `ascend:${deviceIndex}`;
    this.check(this.api.runtime.aclrtSetDevice(deviceIndex), `aclrtSetDevice(${deviceIndex})`);
    this.compute = this.createStream();
  }

  private failWith(api: AclApi, status: number, what: string): never {
    const detail = (api.runtime.aclGetRecentErrMsg() as string | null) ?? '';
    throw new DsaError(
      'ascend_error',
      `${what} failed with ACL error ${status}${detail ? `: ${detail}` : ''}`,
    );
  }

  /** Throws a DsaError naming `what` and the runtime's recent error text when `status` is not 0. */
  check(status: unknown, what: string): void {
    if (status !== 0) this.failWith(this.api, status as number, what);
  }

  /** Creates an ACL stream. */
  createStream(): AclStream {
    const out: unknown[] = [null];
    this.check(this.api.runtime.aclrtCreateStream(out), 'aclrtCreateStream');
    const stream = { id: this.nextStream++, handle: out[0] };
    this.streams.push(stream);
    return stream;
  }

  /** Total and free device memory in bytes. */
  memoryInfo(): { total: number; free: number } {
    const free = [0];
    const total = [0];
    this.check(this.api.runtime.aclrtGetMemInfo(1, free, total), 'aclrtGetMemInfo(ACL_HBM_MEM)');
    return { total: Number(total[0]), free: Number(free[0]) };
  }

  /** Allocates device memory (`aclrtMalloc`, huge pages first). */
  allocate(byteLength: number, usage: BufferUsage): AscendBuffer {
    const out = [0];
    this.check(
      this.api.runtime.aclrtMalloc(out, Math.max(1, byteLength), 0),
      `aclrtMalloc(${byteLength} bytes)`,
    );
    const buffer = new AscendBuffer(Number(out[0]), byteLength, this.device, usage, (b) => this.release(b));
    this.live.add(buffer);
    return buffer;
  }

  /** A contiguous scratch tensor freed at the next synchronize. */
  temp(dtype: DType, shape: Shape): TensorView {
    const buffer = this.allocate(Math.max(1, numel(shape) * dtypeBytes(dtype)), 'activations');
    this.release(buffer);
    return tensorView(buffer, dtype, shape);
  }

  /**
   * A contiguous view on the reusable scratch buffer `slot` (grown when too small, never shrunk).
   * Reusing it is safe only for work on the compute stream, which orders every reader of the previous
   * contents before the next writer: per-call weight upcasts use it so a forward pass does not hold
   * one f32 copy of every weight until the next synchronize.
   */
  scratch(slot: string, dtype: DType, shape: Shape): TensorView {
    const bytes = Math.max(1, numel(shape) * dtypeBytes(dtype));
    let buffer = this.scratchBuffers.get(slot);
    if (!buffer || buffer.byteLength < bytes) {
      if (buffer) this.release(buffer);
      buffer = this.allocate(Math.max(bytes, (buffer?.byteLength ?? 0) * 2), 'activations');
      this.scratchBuffers.set(slot, buffer);
    }
    return tensorView(buffer, dtype, shape);
  }

  private release(buffer: AscendBuffer): void {
    if (this.pendingBuffers.includes(buffer)) return;
    this.pendingBuffers.push(buffer);
  }

  /** The aclTensor descriptor of `view`, created once per (buffer, dtype, shape, strides, offset). */
  tensor(view: TensorView): unknown {
    const buffer = view.buffer as AscendBuffer;
    const key = `${view.dtype}|${view.shape.join(',')}|${view.strides.join(',')}|${view.byteOffset}`;
    let handle = buffer instanceof AscendBuffer ? buffer.descriptors.get(key) : undefined;
    if (handle === undefined) {
      handle = this.createTensor(view);
      buffer.descriptors.set(key, handle);
    }
    return handle;
  }

  /** A new aclTensor descriptor of `view` (not cached: the caller owns it). */
  private createTensor(view: TensorView): unknown {
    const buffer = view.buffer as AscendBuffer;
    if (!(buffer instanceof AscendBuffer) || buffer.address === 0)
      throw new DsaError(
        'ascend_error',
        `tensor view is not backed by live ascend memory (device ${view.buffer.device})`,
      );
    const size = dtypeBytes(view.dtype);
    if (view.byteOffset % size !== 0)
      throw new DsaError(
        'ascend_error',
        `view offset ${view.byteOffset} is not a multiple of the ${view.dtype} size`,
      );
    const handle = this.api.descriptors.aclCreateTensor(
      view.shape.length ? [...view.shape] : null,
      view.shape.length,
      ACL_DTYPES[view.dtype],
      view.shape.length ? [...view.strides] : null,
      view.byteOffset / size,
      ACL_FORMAT_ND,
      [Math.floor(buffer.byteLength / size)],
      1,
      buffer.address,
    );
    if (!handle) this.failWith(this.api, 161002, `aclCreateTensor(${view.dtype} [${view.shape.join(', ')}])`);
    return handle;
  }

  private argument(value: AclnnArgument): unknown {
    if (value === null || typeof value !== 'object') return value;
    if ('scalar' in value) {
      const handle = this.api.descriptors.aclCreateScalar(new Float64Array([value.scalar]), ACL_DTYPES.f64);
      this.pendingHandles.push({ handle, destroy: this.api.descriptors.aclDestroyScalar });
      return handle;
    }
    if ('tensorList' in value) {
      // The list owns its members (aclDestroyTensorList destroys them), so they are fresh descriptors.
      const members = value.tensorList.map((view) => this.createTensor(view));
      const handle = this.api.descriptors.aclCreateTensorList(members, members.length);
      if (!handle) this.failWith(this.api, 161002, `aclCreateTensorList(${members.length} tensors)`);
      this.pendingHandles.push({ handle, destroy: this.api.descriptors.aclDestroyTensorList });
      return handle;
    }
    if ('intArray' in value) {
      const handle = this.api.descriptors.aclCreateIntArray([...value.intArray], value.intArray.length);
      this.pendingHandles.push({ handle, destroy: this.api.descriptors.aclDestroyIntArray });
      return handle;
    }
    return this.tensor(value);
  }

  /**
   * Runs `aclnn<op>`: GetWorkspaceSize with `args`, a pooled workspace of the size it asks for,
   * then the launch on `stream`. Errors name the operator and carry `aclGetRecentErrMsg`.
   */
  run(op: AclnnOperator, args: readonly AclnnArgument[], stream: AclStream = this.compute): void {
    const binding = this.api.operators[op];
    if (!binding) throw new DsaError('ascend_error', `aclnn${op} is not exported by the loaded libopapi.so`);
    const size = [0];
    const executor: unknown[] = [null];
    this.check(
      binding.getWorkspaceSize(...args.map((a) => this.argument(a)), size, executor),
      `aclnn${op}GetWorkspaceSize`,
    );
    const bytes = Number(size[0]);
    if (bytes > this.workspace.size) {
      if (this.workspace.address) this.pendingDevice.push(this.workspace.address);
      const out = [0];
      const grown = Math.max(bytes, this.workspace.size * 2, 1 << 16);
      this.check(this.api.runtime.aclrtMalloc(out, grown, 0), `aclrtMalloc(workspace ${grown})`);
      this.workspace = { address: Number(out[0]), size: grown };
    }
    this.check(
      binding.launch(bytes > 0 ? this.workspace.address : 0, bytes, executor[0], stream.handle),
      `aclnn${op}`,
    );
  }

  /** Host bytes → device view (contiguous), ordered on `stream` through pinned staging memory. */
  upload(view: TensorView, bytes: Uint8Array, stream: AclStream = this.compute): void {
    if (bytes.byteLength === 0) return;
    const staging = [0];
    this.check(this.api.runtime.aclrtMallocHost(staging, bytes.byteLength), 'aclrtMallocHost');
    const host = Number(staging[0]);
    this.pendingHost.push(host);
    this.check(
      this.api.runtime.memcpyFromHost(host, bytes.byteLength, bytes, bytes.byteLength, MEMCPY.hostToHost),
      'aclrtMemcpy (to staging)',
    );
    const address = (view.buffer as AscendBuffer).address + view.byteOffset;
    this.check(
      this.api.runtime.aclrtMemcpyAsync(
        address,
        bytes.byteLength,
        host,
        bytes.byteLength,
        MEMCPY.hostToDevice,
        stream.handle,
      ),
      'aclrtMemcpyAsync (host to device)',
    );
  }

  /** Waits for every stream, then copies a contiguous view's bytes to `out` (synchronous). */
  readNow(view: TensorView, out: Uint8Array): void {
    for (const s of this.streams)
      this.check(this.api.runtime.aclrtSynchronizeStream(s.handle), 'aclrtSynchronizeStream');
    const address = (view.buffer as AscendBuffer).address + view.byteOffset;
    this.check(
      this.api.runtime.memcpyToHost(out, out.byteLength, address, out.byteLength, MEMCPY.deviceToHost),
      'aclrtMemcpy (device to host)',
    );
  }

  /** Waits for `stream` (default: all), then frees what was released while work was queued. */
  synchronize(stream?: AclStream): void {
    for (const s of stream ? [stream] : this.streams)
      this.check(this.api.runtime.aclrtSynchronizeStream(s.handle), `aclrtSynchronizeStream(stream ${s.id})`);
    if (stream && this.streams.length > 1) return; // other streams may still use released memory
    this.flush();
  }

  private flush(): void {
    for (const { handle, destroy } of this.pendingHandles) destroy(handle);
    this.pendingHandles = [];
    for (const host of this.pendingHost) this.check(this.api.runtime.aclrtFreeHost(host), 'aclrtFreeHost');
    this.pendingHost = [];
    for (const buffer of this.pendingBuffers) this.free(buffer);
    this.pendingBuffers = [];
    for (const address of this.pendingDevice) this.check(this.api.runtime.aclrtFree(address), 'aclrtFree');
    this.pendingDevice = [];
  }

  private free(buffer: AscendBuffer): void {
    if (buffer.address === 0) return;
    for (const handle of buffer.descriptors.values()) this.api.descriptors.aclDestroyTensor(handle);
    buffer.descriptors.clear();
    for (const d of buffer.derived.values()) this.free(d);
    buffer.derived.clear();
    this.check(this.api.runtime.aclrtFree(buffer.address), 'aclrtFree');
    buffer.address = 0;
    this.live.delete(buffer);
  }

  /** Synchronizes, frees every buffer and stream this runtime owns. */
  dispose(): void {
    this.synchronize();
    for (const buffer of [...this.live]) this.free(buffer);
    if (this.workspace.address) this.check(this.api.runtime.aclrtFree(this.workspace.address), 'aclrtFree');
    this.workspace = { address: 0, size: 0 };
    for (const s of this.streams)
      this.check(this.api.runtime.aclrtDestroyStream(s.handle), 'aclrtDestroyStream');
    this.streams.length = 0;
  }
}
