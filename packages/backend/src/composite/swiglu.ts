import type { FusedKernels } from '../fused-kernels.js';
import type { CompositeHost } from './composite-host.js';

/** The definition of the fused `swiglu` in primitive kernels: out = silu(gate) · up. All [N, I]; `out` may alias `gate`. */
export function compositeSwiglu(
  backend: CompositeHost,
  ...[out, gate, up]: Parameters<FusedKernels['swiglu']>
): void {
  backend.kernels.unary(out, gate, 'silu');
  backend.kernels.binary(out, out, up, 'mul');
}

/**
 * out = silu(gate) · up: the backend's fused `swiglu`, else {@link compositeSwiglu}. Arguments
 * `(out, gate, up)`, all [N, I]; `out` may alias `gate`.
 */
export function swiglu(backend: CompositeHost, ...args: Parameters<FusedKernels['swiglu']>): void {
  if (backend.fused.swiglu) backend.fused.swiglu(...args);
  else compositeSwiglu(backend, ...args);
}
