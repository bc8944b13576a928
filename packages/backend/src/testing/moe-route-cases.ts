import type { MoeRouteOptions } from '../fused-kernels.js';

/** A router configuration every backend's fused `moeRoute` is checked with against the composite. */
export interface MoeRouteCase {
  /** What the case exercises, for test titles. */
  readonly label: string;
  /** The router options. */
  readonly options: MoeRouteOptions;
  /** Whether the case passes a selection bias (`e_score_correction_bias`). */
  readonly withBias: boolean;
  /** Routed experts E (64 when absent). */
  readonly experts?: number;
}

/** DeepSeek-V3's router and the variants the config allows: scoring, bias, groups, normalization, scale. */
export const MOE_ROUTE_CASES: readonly MoeRouteCase[] = [
  {
    label: 'DeepSeek-V3 (sigmoid, bias, 8 groups keep 4, normalized, scale 2.5)',
    options: {
      nGroup: 8,
      topkGroup: 4,
      topk: 8,
      routedScalingFactor: 2.5,
      normalize: true,
      scoring: 'sigmoid',
    },
    withBias: true,
  },
  {
    label: 'sigmoid without bias, groups by their best expert',
    options: {
      nGroup: 4,
      topkGroup: 2,
      topk: 4,
      routedScalingFactor: 1,
      normalize: false,
      scoring: 'sigmoid',
    },
    withBias: false,
  },
  {
    label: 'softmax, one group',
    options: {
      nGroup: 1,
      topkGroup: 1,
      topk: 6,
      routedScalingFactor: 1,
      normalize: false,
      scoring: 'softmax',
    },
    withBias: false,
  },
  {
    label: 'softmax with bias, normalized, scale 1.5',
    options: {
      nGroup: 4,
      topkGroup: 3,
      topk: 5,
      routedScalingFactor: 1.5,
      normalize: true,
      scoring: 'softmax',
    },
    withBias: true,
  },
  {
    label: 'two experts per group (8 experts, 4 groups keep 2), bias, normalized, scale 2',
    options: {
      nGroup: 4,
      topkGroup: 2,
      topk: 3,
      routedScalingFactor: 2,
      normalize: true,
      scoring: 'sigmoid',
    },
    withBias: true,
    experts: 8,
  },
];
