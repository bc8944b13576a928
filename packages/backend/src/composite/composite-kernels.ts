import type { FusedKernelName, FusedKernels } from '../fused-kernels.js';
import { compositeAddRmsNorm } from './add-rms-norm.js';
import type { CompositeHost, Scratch } from './composite-host.js';
import { compositeIndexerTopk } from './indexer-top-k.js';
import { compositeLinears } from './linears.js';
import { compositeMlaAttention } from './mla-attention.js';
import { compositeMoeExperts } from './moe-experts.js';
import { compositeMoeRoute } from './moe-route.js';
import { compositeSwiglu } from './swiglu.js';

/**
 * The composite definition of each fused kernel: the same arguments after a backend and scratch
 * space, built from primitive kernels. `moeExperts` reads the routing back, so its composite is async.
 */
export type CompositeKernels = {
  readonly [K in FusedKernelName]: (
    backend: CompositeHost,
    workspace: Scratch,
    ...args: Parameters<FusedKernels[K]>
  ) => void | Promise<void>;
};

/**
 * What every fused kernel means, in primitive kernels: the oracle the conformance kit checks each
 * backend's fused kernels against, and the fallback the layer packages run when a backend lacks one.
 */
export const COMPOSITE_KERNELS: CompositeKernels = {
  addRmsNorm: (backend, _workspace, ...args) => compositeAddRmsNorm(backend, ...args),
  swiglu: (backend, _workspace, ...args) => compositeSwiglu(backend, ...args),
  indexerTopk: compositeIndexerTopk,
  mlaAttention: compositeMlaAttention,
  moeRoute: compositeMoeRoute,
  linears: (backend, _workspace, ...args) => compositeLinears(backend, ...args),
  moeExperts: compositeMoeExperts,
};
