import { KernelArgumentError, type MoeRouteOptions } from '@dsa/backend';
import type { TensorView } from '@dsa/tensor';
import { expectDType, expectInteger, expectShape, NULL_POINTER, pointerArg } from './fused-args.js';
import type { FusedKernelHost } from './fused-host.js';

const KERNEL = 'dsa_fused_moe_route';
/** v2: one warp per token, ROUTE_WARPS tokens per CTA (kRouteWarps); DSA_CUDA_MOE_ROUTE=v2 picks it. */
const KERNEL_V2 = 'dsa_fused_moe_route2';
/** v3 (default): v2's grid, the token held in registers (latency-oriented); DSA_CUDA_MOE_ROUTE=v1|v2 picks older ones. */
const KERNEL_V3 = 'dsa_fused_moe_route3';
const ROUTE_WARPS = 4;
/** Limits of kernels/fused/moe-route.cu (kMaxExperts, kMaxGroups, kMaxTopK). */
const MAX_EXPERTS = 512;
const MAX_GROUPS = 64;
const MAX_TOPK = 32;

/**
 * FusedKernels.moeRoute (kernels/fused/moe-route.cu): the noaux_tc router, one warp per token
 * (dsa_fused_moe_route3; DSA_CUDA_MOE_ROUTE=v2 selects v2, =v1 the thread-per-token v1 kernel).
 * `logits` [N, E] f32; `bias` [E] f32 or null; `indices` i32 [N, A]; `weights` f32 [N, A].
 */
export function moeRoute(
  host: FusedKernelHost,
  indices: TensorView,
  weights: TensorView,
  logits: TensorView,
  bias: TensorView | null,
  options: MoeRouteOptions,
): void {
  const name = 'moeRoute';
  if (logits.shape.length !== 2)
    throw new KernelArgumentError(name, `logits must be [N, E], got rank ${logits.shape.length}`);
  const [n, e] = logits.shape as [number, number];
  expectDType(name, 'logits', logits, ['f32']);
  expectInteger(name, 'experts (logits.shape[1])', e, 1, MAX_EXPERTS);
  expectInteger(name, 'groups', options.groups, 1, MAX_GROUPS);
  if (e % options.groups !== 0)
    throw new KernelArgumentError(name, `${e} experts do not split into ${options.groups} groups`);
  expectInteger(name, 'topkGroups', options.topkGroups, 1, options.groups);
  expectInteger(name, 'topk', options.topk, 1, Math.min(MAX_TOPK, e));
  expectDType(name, 'indices', indices, ['i32']);
  expectDType(name, 'weights', weights, ['f32']);
  expectShape(name, 'indices', indices, [n, options.topk]);
  expectShape(name, 'weights', weights, [n, options.topk]);
  if (bias) {
    expectDType(name, 'bias', bias, ['f32']);
    expectShape(name, 'bias', bias, [e]);
  }
  if (n === 0) return;
  const v1 = process.env.DSA_CUDA_MOE_ROUTE === 'v1';
  const kernel = v1 ? KERNEL : process.env.DSA_CUDA_MOE_ROUTE === 'v2' ? KERNEL_V2 : KERNEL_V3;
  host.launcher.launch(
    kernel,
    v1 ? [Math.ceil(n / 64), 1, 1] : [Math.ceil(n / ROUTE_WARPS), 1, 1],
    v1 ? [64, 1, 1] : [32 * ROUTE_WARPS, 1, 1],
    [
      pointerArg(KERNEL, 'indices', indices),
      pointerArg(KERNEL, 'weights', weights),
      pointerArg(KERNEL, 'logits', logits),
      bias ? pointerArg(KERNEL, 'bias', bias) : NULL_POINTER,
      { i32: n },
      { i32: e },
      { i32: options.groups },
      { i32: options.topkGroups },
      { i32: options.topk },
      { f32: options.routedScale },
      { i32: options.normalize ? 1 : 0 },
      { i32: options.scoring === 'softmax' ? 1 : 0 },
    ],
  );
}
