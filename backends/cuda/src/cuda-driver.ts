import koffi, { type LibraryHandle } from 'koffi';
import { CudaError } from './cuda-error.js';

/** The shared library the driver API lives in. */
export const LIBCUDA = 'libcuda.so.1';

/** CUresult values the backend tests for. */
export const CUDA_SUCCESS = 0;
/** cuEventQuery: the event's work has not finished yet. */
export const CUDA_ERROR_NOT_READY = 600;
/** The calling thread has no (valid) current context. */
export const CUDA_ERROR_INVALID_CONTEXT = 201;
/** cuInit / cuDeviceGet: no CUDA device is present. */
export const CUDA_ERROR_NO_DEVICE = 100;

/** Device attributes read by the backend (CUdevice_attribute). */
export const CU_DEVICE_ATTRIBUTE = {
  /** CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT */
  multiprocessorCount: 16,
  /** CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR */
  computeCapabilityMajor: 75,
  /** CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR */
  computeCapabilityMinor: 76,
} as const;

type Fn = ReturnType<LibraryHandle['func']>;

/**
 * The CUDA driver API entry points the backend uses, bound with koffi. Handles (contexts, modules,
 * functions, streams, events, graphs) and device/host addresses travel as `bigint`s declared as
 * `uint64_t` (the x86-64 and aarch64 ABIs pass pointers and 64-bit integers alike); out-parameters
 * are `BigUint64Array(1)` / `Int32Array(1)`. Every call goes through {@link CudaDriver.check}, which throws
 * a {@link CudaError} naming the call and the driver's error name and string.
 */
export class CudaDriver {
  /** The driver version (e.g. 13000 for CUDA 13.0). */
  readonly version: number;
  private readonly fns: Record<string, Fn> = {};
  private readonly errorName: Fn;
  private readonly errorString: Fn;

  private constructor(library: LibraryHandle) {
    const bind = (name: string, signature: string, optional = false) => {
      try {
        this.fns[name] = library.func(`int ${name}(${signature})`);
      } catch (error) {
        if (!optional) throw new Error(`${LIBCUDA} has no ${name}: ${(error as Error).message}`);
      }
    };
    this.errorName = library.func('int cuGetErrorName(int error, _Out_ const char **name)');
    this.errorString = library.func('int cuGetErrorString(int error, _Out_ const char **text)');
    bind('cuInit', 'uint32_t flags');
    bind('cuDriverGetVersion', '_Out_ int *version');
    bind('cuDeviceGetCount', '_Out_ int *count');
    bind('cuDeviceGet', '_Out_ int *device, int ordinal');
    bind('cuDeviceGetName', '_Out_ uint8_t *name, int length, int device');
    bind('cuDeviceGetAttribute', '_Out_ int *value, int attribute, int device');
    bind('cuDeviceTotalMem_v2', '_Out_ uint64_t *bytes, int device');
    bind('cuDevicePrimaryCtxRetain', '_Out_ uint64_t *context, int device');
    bind('cuDevicePrimaryCtxRelease_v2', 'int device');
    bind('cuCtxSetCurrent', 'uint64_t context');
    bind('cuMemAlloc_v2', '_Out_ uint64_t *address, uint64_t bytes');
    bind('cuMemFree_v2', 'uint64_t address');
    bind('cuMemGetInfo_v2', '_Out_ uint64_t *free, _Out_ uint64_t *total');
    bind('cuMemHostAlloc', '_Out_ uint64_t *address, uint64_t bytes, uint32_t flags');
    bind('cuMemFreeHost', 'uint64_t address');
    bind('cuMemcpyHtoDAsync_v2', 'uint64_t destination, uint64_t source, uint64_t bytes, uint64_t stream');
    bind('cuMemcpyDtoHAsync_v2', 'uint64_t destination, uint64_t source, uint64_t bytes, uint64_t stream');
    bind('cuMemcpyDtoDAsync_v2', 'uint64_t destination, uint64_t source, uint64_t bytes, uint64_t stream');
    bind('cuMemsetD8Async', 'uint64_t destination, uint8_t value, uint64_t count, uint64_t stream');
    bind('cuModuleLoadData', '_Out_ uint64_t *module, const uint8_t *image');
    bind('cuModuleUnload', 'uint64_t module');
    bind('cuModuleGetFunction', '_Out_ uint64_t *function, uint64_t module, const char *name');
    bind('cuFuncSetAttribute', 'uint64_t function, int attribute, int value');
    bind('cuFuncGetAttribute', '_Out_ int *value, int attribute, uint64_t function', true);
    bind(
      'cuFuncGetParamInfo',
      'uint64_t function, uint64_t index, _Out_ uint64_t *offset, _Out_ uint64_t *size',
      true,
    );
    bind(
      'cuLaunchKernel',
      'uint64_t function, uint32_t gx, uint32_t gy, uint32_t gz, uint32_t bx, uint32_t by, uint32_t bz, uint32_t shared, uint64_t stream, uint64_t params, uint64_t extra',
    );
    bind('cuStreamCreate', '_Out_ uint64_t *stream, uint32_t flags');
    bind('cuStreamDestroy_v2', 'uint64_t stream');
    bind('cuStreamSynchronize', 'uint64_t stream');
    bind('cuEventCreate', '_Out_ uint64_t *event, uint32_t flags');
    bind('cuEventRecord', 'uint64_t event, uint64_t stream');
    bind('cuEventQuery', 'uint64_t event');
    bind('cuEventSynchronize', 'uint64_t event');
    bind('cuEventElapsedTime_v2', '_Out_ float *milliseconds, uint64_t start, uint64_t end', true);
    bind('cuEventElapsedTime', '_Out_ float *milliseconds, uint64_t start, uint64_t end', true);
    bind('cuEventDestroy_v2', 'uint64_t event');
    bind('cuStreamBeginCapture_v2', 'uint64_t stream, int mode');
    bind('cuStreamEndCapture', 'uint64_t stream, _Out_ uint64_t *graph');
    bind('cuStreamIsCapturing', 'uint64_t stream, _Out_ int *status');
    bind('cuGraphInstantiateWithFlags', '_Out_ uint64_t *exec, uint64_t graph, uint64_t flags');
    bind('cuGraphLaunch', 'uint64_t exec, uint64_t stream');
    bind('cuGraphExecDestroy', 'uint64_t exec');
    bind('cuGraphDestroy', 'uint64_t graph');
    const version = new Int32Array(1);
    this.check('cuDriverGetVersion', this.fns.cuDriverGetVersion!(version));
    this.version = version[0]!;
  }

  /** Opens libcuda.so.1; throws with the loader's message when it is missing. */
  static open(path: string = LIBCUDA): CudaDriver {
    let library: LibraryHandle;
    try {
      library = koffi.load(path);
    } catch (error) {
      throw new Error(`${path} not found (${(error as Error).message}): no NVIDIA driver on this machine`);
    }
    return new CudaDriver(library);
  }

  /** Calls driver function `name` and throws a {@link CudaError} unless it returns CUDA_SUCCESS. */
  call(name: string, ...args: unknown[]): void {
    const fn = this.fns[name];
    if (!fn) throw new Error(`CUDA driver function ${name} is not bound`);
    this.check(name, fn(...args) as number);
  }

  /** Calls driver function `name` and returns its CUresult without throwing. */
  raw(name: string, ...args: unknown[]): number {
    const fn = this.fns[name];
    if (!fn) throw new Error(`CUDA driver function ${name} is not bound`);
    return fn(...args) as number;
  }

  /** Whether the driver exports `name`. */
  has(name: string): boolean {
    return name in this.fns;
  }

  /** Runs driver function `name` on a koffi worker thread (never blocks the event loop); rejects like {@link CudaDriver.call}. */
  callAsync(name: string, ...args: unknown[]): Promise<void> {
    const fn = this.fns[name];
    if (!fn) return Promise.reject(new Error(`CUDA driver function ${name} is not bound`));
    return new Promise((resolve, reject) => {
      fn.async(...args, (error: unknown, result: number) => {
        if (error) reject(error);
        else
          try {
            this.check(name, result);
            resolve();
          } catch (failure) {
            reject(failure);
          }
      });
    });
  }

  /** Throws a {@link CudaError} for a non-zero CUresult. */
  check(call: string, result: number, context?: string): void {
    if (result === CUDA_SUCCESS) return;
    throw new CudaError(call, result, this.describeName(result), this.describe(result), context);
  }

  /** cuGetErrorName of `result`, or `CUresult <n>` when the driver does not know it. */
  describeName(result: number): string {
    const name: (string | null)[] = [null];
    return this.errorName(result, name) === 0 && name[0] ? name[0] : `CUresult ${result}`;
  }

  /** cuGetErrorString of `result`. */
  describe(result: number): string {
    const text: (string | null)[] = [null];
    return this.errorString(result, text) === 0 && text[0] ? text[0] : 'unknown error';
  }
}

/** An out-parameter for one 64-bit handle or address. */
export function out64(): BigUint64Array {
  return new BigUint64Array(1);
}
