import type { Backend, Workspace } from '@dsa/backend';
import type { CudaSettings } from '../cuda-settings.js';
import type { KernelLauncher } from '../launch.js';

/**
 * What the fused kernels need from the CUDA backend: its launcher, a scratch workspace, and
 * allocate/upload for the small persistent tables (expert weight pointers). `CudaBackend` satisfies
 * it structurally.
 */
export interface FusedKernelHost extends Pick<Backend, 'allocate' | 'upload'> {
  /** Launches kernels of the backend's fatbin on its current stream. */
  readonly launcher: KernelLauncher;
  /** Scratch memory; the fused kernels mark and rewind it around each call. */
  readonly workspace: Workspace;
  /** The backend's settings the fused kernels read (MLA split and tensor cores); absent: the defaults. */
  readonly settings?: Pick<CudaSettings, 'mlaSplit' | 'mlaTensorCores'>;
}
