import type { FusedKernels } from '@dsa/backend';
import { addRmsNorm } from './add-rms-norm.js';
import type { FusedKernelHost } from './fused-host.js';
import { indexerTopk } from './indexer-top-k.js';
import { mlaAttention } from './mla-attention.js';
import { moeExperts } from './moe-experts.js';
import { moeRoute } from './moe-route.js';
import { swiglu } from './swiglu.js';

export type { FusedKernelHost } from './fused-host.js';
export { FAST_LINEAR_MAX_ROWS, fastLinear } from './linear.js';

/**
 * The fused kernels of the CUDA backend (kernels/fused/*.cu), bound to `backend` (a `CudaBackend`, or
 * anything with its launcher, workspace, allocate and upload). All six of `FusedKernels`.
 */
export function fusedKernels(backend: FusedKernelHost): Partial<FusedKernels> {
  return {
    addRmsNorm: (out, residual, x, weight, eps) => addRmsNorm(backend, out, residual, x, weight, eps),
    swiglu: (out, gate, up) => swiglu(backend, out, gate, up),
    indexerTopk: (indices, q, weights, keys, batch, k) =>
      indexerTopk(backend, indices, q, weights, keys, batch, k),
    mlaAttention: (out, q, cache, batch, indices, scale) =>
      mlaAttention(backend, out, q, cache, batch, indices, scale),
    moeRoute: (indices, weights, logits, bias, options) =>
      moeRoute(backend, indices, weights, logits, bias, options),
    moeExperts: (out, x, indices, weights, experts) => moeExperts(backend, out, x, indices, weights, experts),
  };
}
