import { type BackendFactory, BackendUnavailableError, SPECIFICATION_VERSION } from '@dsa/backend';
import { CpuBackend } from './cpu-backend.js';
import { loadNative } from './native.js';

export { ArgumentBlock, DTYPE_CODES } from './arguments.js';
export { CPU_FUSED_KERNELS, CpuBackend } from './cpu-backend.js';
export { CpuBuffer } from './cpu-buffer.js';
export { CpuGraph } from './cpu-graph.js';
export {
  CPU_ISAS,
  CPU_SETTING_SPECS,
  type CpuBackendSettings,
  type CpuIsa,
  cpuSettings,
  runnableIsas,
} from './cpu-settings.js';
export {
  loadNative,
  type NativeAddon,
  type NativeInfo,
  type NativeKernel,
  type NativeWait,
} from './native.js';

/**
 * A cpu backend factory over `load` (default: this package's addon): probe() scores 10 when the addon
 * loads and 0, with the load error as the reason, when it does not; it never throws.
 */
export function createCpuBackendFactory(
  load: () => ReturnType<typeof loadNative> = loadNative,
): BackendFactory {
  return {
    name: 'cpu',
    specificationVersion: SPECIFICATION_VERSION,
    async probe() {
      try {
        const native = load();
        if ('error' in native)
          return { score: 0, reason: `native addon failed to load: ${native.error.message}` };
        const info = native.addon.info();
        return {
          score: 10,
          reason: `native addon loaded, ${info.isaName} / ${info.hardwareThreads} threads (${info.cpu || 'unknown CPU'})`,
        };
      } catch (error) {
        return { score: 0, reason: `native addon failed: ${(error as Error).message}` };
      }
    },
    async create(options = {}) {
      const native = load();
      if ('error' in native) {
        throw new BackendUnavailableError(
          'cpu',
          `the cpu backend's native addon failed to load: ${native.error.message}`,
          { cause: native.error },
        );
      }
      return new CpuBackend(native.addon, options);
    },
  };
}

/** The cpu backend factory (default export, found by `createBackend`). */
const cpuBackendFactory: BackendFactory = createCpuBackendFactory();

export default cpuBackendFactory;
