export { denseAttentionRows } from './attention-probe.js';
export type { ExtraProjected, ExtraProjections } from './extra-projections.js';
export { mlaAttention, type RotaryTable } from './kernel-aliases.js';
export { Mla, type MlaProjection } from './mla.js';
export type { MlaDims, MlaWeights } from './mla-weights.js';
