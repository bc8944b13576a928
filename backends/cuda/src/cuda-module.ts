import koffi from 'koffi';
import type { CudaDriver } from './cuda-driver.js';
import { out64 } from './cuda-driver.js';
import { CudaError } from './cuda-error.js';
import type { KernelProfile } from './kernel-profile.js';
import { checkDims, type Dim3, type KernelLauncher, type LaunchArg, packLaunchArgs } from './launch.js';

const PARAM_BYTES = 4096;
const MAX_PARAMS = 512;
const CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1;
const CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
/** Static + dynamic shared memory a launch may use without the opt-in attribute. */
const DEFAULT_SHARED_LIMIT = 48 * 1024;

/**
 * The backend's fatbin loaded with cuModuleLoadData, and the {@link KernelLauncher} over it. Kernel
 * handles are looked up once and cached; arguments are packed into one persistent native block
 * handed to cuLaunchKernel through `extra` (CU_LAUNCH_PARAM_BUFFER_POINTER / _SIZE / _END).
 */
export class CudaModule implements KernelLauncher {
  /** Kernel names the fatbin's manifest lists (for error messages). */
  readonly kernelNames: readonly string[];
  /** The stream launches go to (the backend switches it while capturing a graph). */
  stream: bigint;
  /** Launches issued so far (for diagnostics). */
  launches = 0;
  /**
   * Synchronize after every launch and report the kernel that faulted (the backend sets it from the
   * setting `syncLaunches`, debug only, slow, and turns it off while a graph is being captured).
   */
  syncEachLaunch = false;
  /** Times every launch with events when set (setting `profile`; the backend clears it while capturing). */
  profile: KernelProfile | null = null;
  private readonly driver: CudaDriver;
  private readonly module: bigint;
  /** Architecture-specific modules loaded beside the fatbin, and the kernels each holds. */
  private readonly extraModules: { readonly module: bigint; readonly kernels: ReadonlySet<string> }[] = [];
  private readonly functions = new Map<string, bigint>();
  private readonly sharedOptIn = new Map<bigint, number>();
  private readonly staticShared = new Map<bigint, number>();
  private readonly allocation: unknown;
  private readonly native: bigint;
  private readonly params: DataView;
  private readonly sizeSlot: DataView;
  private readonly extra: bigint;
  private readonly pointers: DataView;
  private readonly pointersAddress: bigint;
  private readonly layouts = new Map<bigint, { offset: number; size: number }[] | null>();

  constructor(
    driver: CudaDriver,
    image: Uint8Array,
    kernelNames: readonly string[],
    stream: bigint,
    /** Modules for this device's architecture beside the fatbin (KernelBinary.modules, already filtered). */
    extras: readonly { readonly image: Uint8Array; readonly kernels: readonly string[] }[] = [],
  ) {
    this.driver = driver;
    this.kernelNames = [...kernelNames, ...extras.flatMap((e) => e.kernels)];
    this.stream = stream;
    const module = out64();
    driver.call('cuModuleLoadData', module, image);
    this.module = module[0]!;
    for (const extra of extras) {
      const handle = out64();
      driver.call('cuModuleLoadData', handle, extra.image);
      this.extraModules.push({ module: handle[0]!, kernels: new Set(extra.kernels) });
    }
    // [0, 4096): parameter buffer; [4096, 4104): its size; [4104, 4144): the `extra` array.
    this.allocation = koffi.alloc('uint8_t', PARAM_BYTES + 64 + 8 * MAX_PARAMS);
    this.native = koffi.address(this.allocation);
    const memory = koffi.view(this.native, PARAM_BYTES + 64 + 8 * MAX_PARAMS);
    this.pointers = new DataView(memory, PARAM_BYTES + 64, 8 * MAX_PARAMS);
    this.pointersAddress = this.native + BigInt(PARAM_BYTES + 64);
    this.params = new DataView(memory, 0, PARAM_BYTES);
    const tail = new DataView(memory, PARAM_BYTES, 64);
    tail.setBigUint64(8, 1n, true); // CU_LAUNCH_PARAM_BUFFER_POINTER
    tail.setBigUint64(16, this.native, true);
    tail.setBigUint64(24, 2n, true); // CU_LAUNCH_PARAM_BUFFER_SIZE
    tail.setBigUint64(32, this.native + BigInt(PARAM_BYTES), true);
    tail.setBigUint64(40, 0n, true); // CU_LAUNCH_PARAM_END
    this.sizeSlot = tail;
    this.extra = this.native + BigInt(PARAM_BYTES + 8);
  }

  /** The CUfunction of `kernel`, looked up once; throws listing the known kernels when it is absent. */
  function(kernel: string): bigint {
    const cached = this.functions.get(kernel);
    if (cached !== undefined) return cached;
    const handle = out64();
    const owner = this.extraModules.find((m) => m.kernels.has(kernel))?.module ?? this.module;
    const result = this.driver.raw('cuModuleGetFunction', handle, owner, kernel);
    if (result !== 0) {
      throw new CudaError(
        'cuModuleGetFunction',
        result,
        this.driver.describeName(result),
        `kernel "${kernel}" is not in the fatbin; known kernels: ${this.kernelNames.join(', ') || '(manifest missing)'}`,
      );
    }
    this.functions.set(kernel, handle[0]!);
    return handle[0]!;
  }

  /** Whether `kernel` is loaded (an architecture-specific kernel is absent on other devices): asked, not assumed. */
  has(kernel: string): boolean {
    return this.kernelNames.includes(kernel);
  }

  launch(kernel: string, grid: Dim3, block: Dim3, args: readonly LaunchArg[], sharedBytes = 0): void {
    const profile = this.profile;
    if (profile && profile.leadNs > 0n && profile.idle) {
      // The lead goes first: its launch reuses the argument block this launch is about to fill.
      profile.idle = false;
      this.profile = null;
      try {
        this.launch('dsa_profile_spin', [1, 1, 1], [1, 1, 1], [{ i64: profile.leadNs }]);
      } finally {
        this.profile = profile;
      }
    }
    const fn = this.function(kernel);
    checkDims(kernel, grid, block);
    // Dynamic shared memory beyond 48 KiB less the kernel's static shared memory needs the opt-in
    // attribute (cuLaunchKernel fails with "invalid argument" otherwise).
    if (
      sharedBytes > 0 &&
      sharedBytes + this.staticSharedBytes(fn) > DEFAULT_SHARED_LIMIT &&
      (this.sharedOptIn.get(fn) ?? 0) < sharedBytes
    ) {
      this.driver.check(
        'cuFuncSetAttribute',
        this.driver.raw(
          'cuFuncSetAttribute',
          fn,
          CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
          sharedBytes,
        ),
        `${kernel}: ${sharedBytes} bytes of dynamic shared memory (+ ${this.staticSharedBytes(fn)} static)`,
      );
      this.sharedOptIn.set(fn, sharedBytes);
    }
    const size = packLaunchArgs(kernel, args, this.params);
    // With the kernel's parameter layout (cuFuncGetParamInfo, CUDA 12.4+) the launch passes one pointer per
    // parameter into the packed buffer, and a packing that does not match the kernel is caught here;
    // otherwise the buffer goes through `extra` (CU_LAUNCH_PARAM_BUFFER_POINTER / _SIZE).
    const layout = this.layout(fn);
    let params = 0n;
    let extra = this.extra;
    if (layout) {
      const last = layout.at(-1);
      const expected = last ? last.offset + last.size : 0;
      if (size !== expected) {
        throw new RangeError(
          `${kernel}: the ${args.length} launch arguments pack to ${size} bytes, but the kernel's ${layout.length} parameters take ${expected} bytes (offsets ${layout.map((p) => `${p.offset}+${p.size}`).join(', ')})`,
        );
      }
      layout.forEach((p, i) => {
        this.pointers.setBigUint64(8 * i, this.native + BigInt(p.offset), true);
      });
      params = this.pointersAddress;
      extra = 0n;
    } else {
      this.sizeSlot.setBigUint64(0, BigInt(size), true);
    }
    const raw = () =>
      this.driver.raw(
        'cuLaunchKernel',
        fn,
        grid[0],
        grid[1],
        grid[2],
        block[0],
        block[1],
        block[2],
        sharedBytes,
        this.stream,
        params,
        extra,
      );
    let result = 0;
    if (profile) profile.time(kernel, this.stream, () => (result = raw()));
    else result = raw();
    if (result !== 0) {
      this.driver.check(
        'cuLaunchKernel',
        result,
        `kernel ${kernel}, grid ${grid.join('x')}, block ${block.join('x')}, ${sharedBytes} B shared, ${size} B of arguments`,
      );
    }
    this.launches++;
    if (this.syncEachLaunch) {
      this.driver.check(
        'cuStreamSynchronize',
        this.driver.raw('cuStreamSynchronize', this.stream),
        `after kernel ${kernel} (launch #${this.launches}, grid ${grid.join('x')}, block ${block.join('x')})`,
      );
    }
  }

  /** Static shared memory of `fn` in bytes (cuFuncGetAttribute, cached; 0 when the driver lacks it). */
  private staticSharedBytes(fn: bigint): number {
    let bytes = this.staticShared.get(fn);
    if (bytes === undefined) {
      const value = new Int32Array(1);
      bytes =
        this.driver.has('cuFuncGetAttribute') &&
        this.driver.raw('cuFuncGetAttribute', value, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, fn) === 0
          ? value[0]!
          : 0;
      this.staticShared.set(fn, bytes);
    }
    return bytes;
  }

  /** The kernel's parameters as (offset, size) from cuFuncGetParamInfo, or null when the driver lacks it. */
  layout(fn: bigint): { offset: number; size: number }[] | null {
    const cached = this.layouts.get(fn);
    if (cached !== undefined) return cached;
    let layout: { offset: number; size: number }[] | null = null;
    if (this.driver.has('cuFuncGetParamInfo')) {
      layout = [];
      const offset = new BigUint64Array(1);
      const size = new BigUint64Array(1);
      while (
        layout.length < MAX_PARAMS &&
        this.driver.raw('cuFuncGetParamInfo', fn, layout.length, offset, size) === 0
      ) {
        layout.push({ offset: Number(offset[0]), size: Number(size[0]) });
      }
    }
    this.layouts.set(fn, layout);
    return layout;
  }

  /** Unloads the module. */
  dispose(): void {
    this.driver.raw('cuModuleUnload', this.module);
    koffi.free(this.allocation);
  }
}
