export { denseAttentionRows } from './attention-probe.js';
export { Mla, type MlaProjection, type RotaryTable } from './mla.js';
export { causalMask, mlaAttention } from './mla-attention.js';
export type { MlaDims, MlaWeights } from './mla-weights.js';
export {
  gatherSequenceRows,
  SCORE_BUDGET,
  type SequenceRun,
  sequenceRuns,
  slotMap,
} from './sequence-runs.js';
