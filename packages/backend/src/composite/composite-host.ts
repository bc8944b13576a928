import type { Backend } from '../backend.js';
import type { FusedKernels } from '../fused-kernels.js';
import type { Workspace } from '../workspace.js';

/**
 * What a composite kernel uses of a backend: the primitive kernels, device copies and transfers, and
 * the fused kernels (a composite may call a smaller fused kernel, e.g. `moeExperts` calls `swiglu`).
 * Every {@link Backend} is one; a backend can also hand its own kernels to a composite from inside.
 */
export type CompositeHost = Pick<Backend, 'kernels' | 'fused' | 'copy' | 'upload' | 'download'>;

/**
 * Scratch tensors for a composite: a fresh tensor per call, and a mark to release them together.
 * Every {@link Workspace} is one.
 */
export type Scratch = Pick<Workspace, 'tensor' | 'mark' | 'rewind'>;

/**
 * The dispatcher of fused kernel `name`: the backend's fused kernel when it has one, else `composite`
 * (the one rule `indexerTopk`, `mlaAttention` and `moeRoute` follow).
 */
export function fusedOrComposite<K extends 'indexerTopk' | 'mlaAttention' | 'moeRoute'>(
  name: K,
  composite: (backend: CompositeHost, workspace: Scratch, ...args: Parameters<FusedKernels[K]>) => void,
): (backend: CompositeHost, workspace: Scratch, ...args: Parameters<FusedKernels[K]>) => void {
  return (backend, workspace, ...args) => {
    const fused = backend.fused[name] as ((...fusedArgs: Parameters<FusedKernels[K]>) => void) | undefined;
    if (fused) fused.apply(backend.fused, args);
    else composite(backend, workspace, ...args);
  };
}
