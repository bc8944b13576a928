import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The fatbin and its manifest as `scripts/build-kernels.mjs` writes them. */
export interface KernelBinary {
  /** Path of the fatbin. */
  readonly path: string;
  /** The fatbin's bytes (handed to cuModuleLoadData). */
  readonly image: Uint8Array;
  /** Kernel names of the manifest (empty when the manifest is missing). */
  readonly kernels: readonly string[];
  /** Target architectures the fatbin holds, e.g. `["sm_80", "sm_90a"]`. */
  readonly archs: readonly string[];
  /**
   * Architecture-specific modules beside the fatbin (the manifest's `modules`, e.g. the whole-program
   * sm_90a kernels of `kernels/sm90a/`): loaded only on a device of that architecture.
   */
  readonly modules: readonly KernelModuleImage[];
}

/** One architecture-specific module of a {@link KernelBinary}. */
export interface KernelModuleImage {
  /** Path of the module's fatbin. */
  readonly path: string;
  /** The one architecture it holds, e.g. `sm_90a`. */
  readonly arch: string;
  /** Its bytes (handed to cuModuleLoadData). */
  readonly image: Uint8Array;
  /** Kernel names it holds. */
  readonly kernels: readonly string[];
}

/**
 * Where the fatbin is looked for: `fatbin` (the setting `fatbin`, DSA_CUDA_FATBIN), else
 * `build/dsa-kernels.fatbin` of this package.
 */
export function kernelBinaryPath(fatbin?: string): string {
  if (fatbin) return path.resolve(fatbin);
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'build', 'dsa-kernels.fatbin');
}

/** How to build the fatbin, for error messages. */
export const BUILD_HINT =
  'build it with `pnpm --filter @dsa/backend-cuda build` (runs nvcc via scripts/build-kernels.mjs) or point DSA_CUDA_FATBIN at one';

/** Why the fatbin could not be read. */
export interface KernelBinaryMissing {
  /** What is missing and how to build it. */
  readonly error: string;
}

/** Reads the fatbin (see {@link kernelBinaryPath}); returns the reason instead when it is missing. */
export function readKernelBinary(fatbin?: string): KernelBinary | KernelBinaryMissing {
  const file = kernelBinaryPath(fatbin);
  if (!fs.existsSync(file)) return { error: `CUDA kernels not built: ${file} is missing; ${BUILD_HINT}` };
  const image = new Uint8Array(fs.readFileSync(file));
  let kernels: string[] = [];
  let archs: string[] = [];
  const modules: KernelModuleImage[] = [];
  const manifest = file.replace(/\.fatbin$/, '.json');
  if (fs.existsSync(manifest)) {
    const json = JSON.parse(fs.readFileSync(manifest, 'utf8')) as {
      kernels?: string[];
      archs?: string[];
      modules?: { file: string; arch: string; kernels: string[] }[];
    };
    kernels = json.kernels ?? [];
    archs = json.archs ?? [];
    for (const m of json.modules ?? []) {
      const modulePath = path.join(path.dirname(file), m.file);
      if (!fs.existsSync(modulePath)) {
        return {
          error: `CUDA kernels incomplete: ${modulePath} (listed in ${manifest}) is missing; ${BUILD_HINT}`,
        };
      }
      modules.push({
        path: modulePath,
        arch: m.arch,
        image: new Uint8Array(fs.readFileSync(modulePath)),
        kernels: m.kernels,
      });
    }
  }
  return { path: file, image, kernels, archs, modules };
}
