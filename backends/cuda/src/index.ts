import { type BackendFactory, BackendUnavailableError, SPECIFICATION_VERSION } from '@dsa/backend';
import { CudaBackend } from './cuda-backend.js';
import { cudaSettings } from './cuda-settings.js';
import { probeCuda } from './probe.js';

export {
  CUBLASLT_ALIGNMENT,
  CUBLASLT_WORKSPACE_BYTES,
  CUDA_R,
  CublasLt,
  cublasLtCandidates,
  type LtGemm,
  type LtMatrix,
} from './cublas-lt.js';
export { CudaBackend } from './cuda-backend.js';
export { CudaBuffer } from './cuda-buffer.js';
export { CU_DEVICE_ATTRIBUTE, CudaDriver, LIBCUDA } from './cuda-driver.js';
export { CudaError } from './cuda-error.js';
export { captureCudaGraph } from './cuda-graph.js';
export {
  CUDA_DEFAULT_SETTINGS,
  CUDA_SETTING_SPECS,
  type CudaSettings,
  cudaSettings,
} from './cuda-settings.js';
export { devicePointer } from './device-pointer.js';
export {
  BUILD_HINT,
  type KernelBinary,
  type KernelBinaryMissing,
  kernelBinaryPath,
  readKernelBinary,
} from './kernel-binary.js';
export {
  type Dim3,
  f64Arg,
  type KernelLauncher,
  type LaunchArg,
  launchArgSize,
  packLaunchArgs,
} from './launch.js';
export { type CudaProbe, probeCuda } from './probe.js';
export { CUDA_DTYPE_CODES, MAX_RANK, TENSOR_ARG_COUNT, tensorArgs } from './tensor-args.js';

/** Probe score when the driver, a device and the fatbin are all present (above cpu's 10). */
export const CUDA_PROBE_SCORE = 100;

/** The cuda backend factory (default export, found by `createBackend`). */
const cudaBackendFactory: BackendFactory = {
  name: 'cuda',
  specificationVersion: SPECIFICATION_VERSION,
  async probe() {
    const found = probeCuda();
    if (!found.ok) return { score: 0, reason: found.reason };
    return {
      score: CUDA_PROBE_SCORE,
      reason: `${found.devices} CUDA device(s), driver ${found.driver.version}, kernels ${found.binary.path} (${found.binary.archs.join(' ') || 'archs unknown'})`,
    };
  },
  async create(options = {}) {
    const settings = cudaSettings(options.settings);
    const found = probeCuda(false, undefined, settings.fatbin);
    if (!found.ok)
      throw new BackendUnavailableError('cuda', `the cuda backend cannot run here: ${found.reason}`);
    const index = options.deviceIndex ?? 0;
    if (!Number.isInteger(index) || index < 0 || index >= found.devices) {
      throw new BackendUnavailableError(
        'cuda',
        `cuda:${index} does not exist: ${found.devices} CUDA device(s) present`,
      );
    }
    try {
      return new CudaBackend(found.driver, found.binary, options, settings);
    } catch (error) {
      throw new BackendUnavailableError(
        'cuda',
        `the cuda backend failed to start: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  },
};

export default cudaBackendFactory;
