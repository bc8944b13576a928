import type { FusedKernels } from '../fused-kernels.js';
import type { CompositeHost } from './composite-host.js';

/**
 * The definition of the fused `addRmsNorm` in primitive kernels: residual += x; out = rmsNorm(residual) · weight.
 * All [N, D].
 */
export function compositeAddRmsNorm(
  backend: CompositeHost,
  ...[out, residual, x, weight, eps]: Parameters<FusedKernels['addRmsNorm']>
): void {
  backend.kernels.binary(residual, residual, x, 'add');
  backend.kernels.rmsNorm(out, residual, weight, eps);
}

/**
 * residual += x; out = rmsNorm(residual) · weight: the backend's fused `addRmsNorm`, else
 * {@link compositeAddRmsNorm}. Arguments `(out, residual, x, weight, eps)`, all [N, D].
 */
export function addRmsNorm(backend: CompositeHost, ...args: Parameters<FusedKernels['addRmsNorm']>): void {
  if (backend.fused.addRmsNorm) backend.fused.addRmsNorm(...args);
  else compositeAddRmsNorm(backend, ...args);
}
