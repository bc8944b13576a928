import { KernelArgumentError } from '../errors/kernel-argument-error.js';
import type { FusedKernels } from '../fused-kernels.js';
import type { CompositeHost } from './composite-host.js';

/** Throws unless `linears` got one output per weight. */
export function expectLinearsArity(outs: readonly unknown[], weights: readonly unknown[]): void {
  if (outs.length !== weights.length)
    throw new KernelArgumentError('linears', `${outs.length} outputs for ${weights.length} weights`);
}

/**
 * The definition of the fused `linears` in primitive kernels: one {@link Kernels.linear} per weight,
 * `outs[i]` = linear(x, weights[i]).
 */
export function compositeLinears(
  backend: CompositeHost,
  ...[outs, x, weights]: Parameters<FusedKernels['linears']>
): void {
  expectLinearsArity(outs, weights);
  for (let i = 0; i < weights.length; i++) backend.kernels.linear(outs[i]!, x, weights[i]!);
}

/**
 * `outs[i]` = linear(x, weights[i]) for every i: the backend's fused `linears` (one pass over all the weights),
 * else {@link compositeLinears}. `x` [M, K]; `weights[i]` [N_i, K]; `outs[i]` [M, N_i].
 */
export function linears(backend: CompositeHost, ...args: Parameters<FusedKernels['linears']>): void {
  if (backend.fused.linears) backend.fused.linears(...args);
  else compositeLinears(backend, ...args);
}
