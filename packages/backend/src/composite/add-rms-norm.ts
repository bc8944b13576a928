import type { TensorView } from '@dsa/tensor';
import type { CompositeHost } from './composite-host.js';

/**
 * The definition of the fused `addRmsNorm` in primitive kernels: residual += x; out = rmsNorm(residual) · weight.
 * All [N, D].
 */
export function compositeAddRmsNorm(
  backend: CompositeHost,
  out: TensorView,
  residual: TensorView,
  x: TensorView,
  weight: TensorView,
  eps: number,
): void {
  backend.kernels.binary(residual, residual, x, 'add');
  backend.kernels.rmsNorm(out, residual, weight, eps);
}

/** residual += x; out = rmsNorm(residual) · weight: the backend's fused `addRmsNorm`, else its composite. All [N, D]. */
export function addRmsNorm(
  backend: CompositeHost,
  out: TensorView,
  residual: TensorView,
  x: TensorView,
  weight: TensorView,
  eps: number,
): void {
  if (backend.fused.addRmsNorm) backend.fused.addRmsNorm(out, residual, x, weight, eps);
  else compositeAddRmsNorm(backend, out, residual, x, weight, eps);
}
