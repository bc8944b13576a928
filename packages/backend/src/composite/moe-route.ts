import { broadcastTo, reshape, splitDim, unsqueeze } from '@dsa/tensor';
import { KernelArgumentError } from '../errors/kernel-argument-error.js';
import type { FusedKernels } from '../fused-kernels.js';
import { type CompositeHost, fusedOrComposite, type Scratch } from './composite-host.js';

/**
 * The definition of the fused `moeRoute` (DeepSeek's `noaux_tc` router) in primitive kernels (see
 * `FusedKernels.moeRoute`). `logits` [N, E] f32; `bias` [E] or null; `indices` i32 [N, A] (ascending
 * expert ids); `weights` f32 [N, A].
 */
export function compositeMoeRoute(
  backend: CompositeHost,
  workspace: Scratch,
  ...[indices, weights, logits, bias, options]: Parameters<FusedKernels['moeRoute']>
): void {
  const k = backend.kernels;
  const [n, e] = logits.shape as [number, number];
  const g = options.nGroup;
  const perGroup = e / g;
  if (!Number.isInteger(perGroup))
    throw new KernelArgumentError('moeRoute', `${e} experts do not split into ${g} groups`);
  const mark = workspace.mark();

  // scores: the mixing weights come from these unbiased scores.
  const scores = workspace.tensor('f32', [n, e]);
  if (options.scoring === 'sigmoid') k.unary(scores, logits, 'sigmoid');
  else {
    backend.copy(scores, logits);
    k.softmax(scores);
  }
  // choice = scores + bias: decides which experts, never how much.
  const choice = workspace.tensor('f32', [n, e]);
  if (bias) k.binary(choice, scores, broadcastTo(unsqueeze(bias, 0), [n, e]), 'add');
  else backend.copy(choice, scores);

  if (g > 1) {
    // group score = sum of the two best choices in the group (the best one without a bias).
    const best = bias ? Math.min(2, perGroup) : 1;
    const groupTop = workspace.tensor('f32', [n * g, best]);
    const groupTopIndex = workspace.tensor('i32', [n * g, best]);
    k.topk(groupTopIndex, groupTop, reshape(choice, [n * g, perGroup]), best);
    const groupScore = workspace.tensor('f32', [n * g]);
    k.reduceSum(groupScore, groupTop);
    // keep the best `topkGroup` groups; experts of the others get -inf.
    const kept = workspace.tensor('i32', [n, options.topkGroup]);
    k.topk(kept, null, reshape(groupScore, [n, g]), options.topkGroup);
    const groupMask = workspace.tensor('f32', [n, g]);
    k.fill(groupMask, Number.NEGATIVE_INFINITY);
    k.scatterColumns(groupMask, kept, 0);
    const choice3 = splitDim(choice, 1, [g, perGroup]);
    k.binary(choice3, choice3, broadcastTo(unsqueeze(groupMask, 2), [n, g, perGroup]), 'add');
  }
  k.topk(indices, null, choice, options.topk);
  k.gatherColumns(weights, scores, indices);
  if (options.normalize) {
    const sum = workspace.tensor('f32', [n, 1]);
    k.reduceSum(reshape(sum, [n]), weights);
    k.binary(weights, weights, broadcastTo(sum, [n, options.topk]), 'div');
  }
  if (options.routedScalingFactor !== 1) {
    const scale = workspace.tensor('f32', [1, 1]);
    k.fill(scale, options.routedScalingFactor);
    k.binary(weights, weights, broadcastTo(scale, [n, options.topk]), 'mul');
  }
  workspace.rewind(mark);
}

/**
 * DeepSeek's `noaux_tc` router: the backend's fused `moeRoute`, else {@link compositeMoeRoute}.
 * Shapes as there.
 */
export const moeRoute = fusedOrComposite('moeRoute', compositeMoeRoute);
