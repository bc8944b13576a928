import type { TensorView } from '@dsa/tensor';
import type { CompositeHost } from './composite-host.js';

/** The definition of the fused `swiglu` in primitive kernels: out = silu(gate) · up. All [N, I]; `out` may alias `gate`. */
export function compositeSwiglu(
  backend: CompositeHost,
  out: TensorView,
  gate: TensorView,
  up: TensorView,
): void {
  backend.kernels.unary(out, gate, 'silu');
  backend.kernels.binary(out, out, up, 'mul');
}

/** out = silu(gate) · up: the backend's fused `swiglu`, else its composite. All [N, I]; `out` may alias `gate`. */
export function swiglu(backend: CompositeHost, out: TensorView, gate: TensorView, up: TensorView): void {
  if (backend.fused.swiglu) backend.fused.swiglu(out, gate, up);
  else compositeSwiglu(backend, out, gate, up);
}
