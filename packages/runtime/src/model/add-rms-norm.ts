import type { Backend } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';

/** residual += x; out = rmsNorm(residual) · weight: the backend's fused `addRmsNorm`, else add + rmsNorm. All [N, D]. */
export function addRmsNorm(
  backend: Backend,
  out: TensorView,
  residual: TensorView,
  x: TensorView,
  weight: TensorView,
  eps: number,
): void {
  if (backend.fused.addRmsNorm) {
    backend.fused.addRmsNorm(out, residual, x, weight, eps);
    return;
  }
  backend.kernels.binary(residual, residual, x, 'add');
  backend.kernels.rmsNorm(out, residual, weight, eps);
}
