export { denseAttentionRows } from './attention-probe.js';
export {
  causalMask,
  gatherSequenceRows,
  mlaAttention,
  type RotaryTable,
  SCORE_BUDGET,
  type SequenceRun,
  sequenceRuns,
  slotMap,
} from './kernel-aliases.js';
export { Mla, type MlaProjection } from './mla.js';
export type { MlaDims, MlaWeights } from './mla-weights.js';
