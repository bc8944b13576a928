import type { MoeRouteOptions } from '../fused-kernels.js';

/** A router configuration every backend's fused `moeRoute` is checked with against the composite. */
export interface MoeRouteCase {
  /** What the case exercises, for test titles. */
  readonly label: string;
  /** The router options. */
  readonly options: MoeRouteOptions;
  /** Whether the case passes a selection bias (`e_score_correction_bias`). */
  readonly withBias: boolean;
}

/** DeepSeek-V3's router and the variants the config allows: scoring, bias, groups, normalization, scale. */
export const MOE_ROUTE_CASES: readonly MoeRouteCase[] = [
  {
    label: 'DeepSeek-V3 (sigmoid, bias, 8 groups keep 4, normalized, scale 2.5)',
    options: { groups: 8, topkGroups: 4, topk: 8, routedScale: 2.5, normalize: true, scoring: 'sigmoid' },
    withBias: true,
  },
  {
    label: 'sigmoid without bias, groups by their best expert',
    options: { groups: 4, topkGroups: 2, topk: 4, routedScale: 1, normalize: false, scoring: 'sigmoid' },
    withBias: false,
  },
  {
    label: 'softmax, one group',
    options: { groups: 1, topkGroups: 1, topk: 6, routedScale: 1, normalize: false, scoring: 'softmax' },
    withBias: false,
  },
];
