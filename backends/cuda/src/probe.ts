import { CUDA_ERROR_NO_DEVICE, CudaDriver } from './cuda-driver.js';
import { CudaError } from './cuda-error.js';
import { cudaSettings } from './cuda-settings.js';
import { type KernelBinary, readKernelBinary } from './kernel-binary.js';

/** What {@link probeCuda} found: a usable driver, device count and fatbin, or why not. */
export type CudaProbe =
  | {
      /** Everything needed is present. */
      readonly ok: true;
      /** The opened driver (cuInit done). */
      readonly driver: CudaDriver;
      /** The fatbin. */
      readonly binary: KernelBinary;
      /** CUDA devices present. */
      readonly devices: number;
    }
  | {
      /** Something is missing. */
      readonly ok: false;
      /** What, and how to fix it. */
      readonly reason: string;
    };

let cached: { fatbin: string | undefined; probe: CudaProbe } | undefined;

/**
 * Opens libcuda.so.1, runs cuInit, counts devices and reads the fatbin (`fatbin`, the setting of that
 * name, else the package's), in that order; the first failure becomes the reason. Never throws. The
 * result is cached per fatbin (pass `fresh` to redo it).
 */
export function probeCuda(
  fresh = false,
  open: () => CudaDriver = () => CudaDriver.open(),
  fatbin: string | undefined = cudaSettings().fatbin,
): CudaProbe {
  if (cached && cached.fatbin === fatbin && !fresh) return cached.probe;
  cached = { fatbin, probe: probeOnce(open, fatbin) };
  return cached.probe;
}

function probeOnce(open: () => CudaDriver, fatbin: string | undefined): CudaProbe {
  let driver: CudaDriver;
  try {
    driver = open();
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  try {
    driver.call('cuInit', 0);
    const count = new Int32Array(1);
    driver.call('cuDeviceGetCount', count);
    if (count[0]! < 1) return { ok: false, reason: 'cuInit succeeded but there is no CUDA device' };
    const binary = readKernelBinary(fatbin);
    if ('error' in binary) return { ok: false, reason: binary.error };
    return { ok: true, driver, binary, devices: count[0]! };
  } catch (error) {
    if (error instanceof CudaError && error.result === CUDA_ERROR_NO_DEVICE) {
      return { ok: false, reason: `no CUDA device: ${error.message}` };
    }
    return { ok: false, reason: `CUDA driver unusable: ${(error as Error).message}` };
  }
}
