import type { Backend } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';

/** out = silu(gate) · up: the backend's fused `swiglu`, else unary + binary. All [N, I]; `out` may alias `gate`. */
export function swiglu(backend: Backend, out: TensorView, gate: TensorView, up: TensorView): void {
  if (backend.fused.swiglu) {
    backend.fused.swiglu(out, gate, up);
    return;
  }
  backend.kernels.unary(out, gate, 'silu');
  backend.kernels.binary(out, out, up, 'mul');
}
