import { type FusedKernels, KernelArgumentError } from '@dsa/backend';
import { dims, expectDType, expectInteger, expectShape, NULL_POINTER, pointerArg } from './fused-args.js';
import type { FusedKernelHost } from './fused-host.js';

/** One warp per token, ROUTE_WARPS tokens per CTA (kRouteWarps), the token held in registers (v3). */
const KERNEL = 'dsa_fused_moe_route3';
const ROUTE_WARPS = 4;
/** Limits of kernels/fused/moe-route.cu (kMaxExperts, kMaxGroups, kMaxTopK). */
const MAX_EXPERTS = 512;
const MAX_GROUPS = 64;
const MAX_TOPK = 32;

/**
 * FusedKernels.moeRoute (kernels/fused/moe-route.cu): the noaux_tc router, one warp per token
 * (dsa_fused_moe_route3; the earlier versions it beat are kept in dev/).
 * `logits` [N, E] f32; `bias` [E] f32 or null; `indices` i32 [N, A]; `weights` f32 [N, A].
 */
export function moeRoute(
  host: FusedKernelHost,
  ...[indices, weights, logits, bias, options]: Parameters<FusedKernels['moeRoute']>
): void {
  const name = 'moeRoute';
  const [n, e] = dims(name, 'logits', logits, '[N, E]') as [number, number];
  expectDType(name, 'logits', logits, ['f32']);
  expectInteger(name, 'experts (logits.shape[1])', e, 1, MAX_EXPERTS);
  expectInteger(name, 'nGroup', options.nGroup, 1, MAX_GROUPS);
  if (e % options.nGroup !== 0)
    throw new KernelArgumentError(name, `${e} experts do not split into ${options.nGroup} groups`);
  expectInteger(name, 'topkGroup', options.topkGroup, 1, options.nGroup);
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
  host.launcher.launch(
    KERNEL,
    [Math.ceil(n / ROUTE_WARPS), 1, 1],
    [32 * ROUTE_WARPS, 1, 1],
    [
      pointerArg(KERNEL, 'indices', indices),
      pointerArg(KERNEL, 'weights', weights),
      pointerArg(KERNEL, 'logits', logits),
      bias ? pointerArg(KERNEL, 'bias', bias) : NULL_POINTER,
      { i32: n },
      { i32: e },
      { i32: options.nGroup },
      { i32: options.topkGroup },
      { i32: options.topk },
      { f32: options.routedScalingFactor },
      { i32: options.normalize ? 1 : 0 },
      { i32: options.scoring === 'softmax' ? 1 : 0 },
    ],
  );
}
