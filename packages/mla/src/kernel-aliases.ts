// MLA's attention kernel and the attention helpers it shared with the indexer moved beside the
// backend contract (issue 13): these names stay for compatibility and go in a later minor release.
import {
  SCORE_BUDGET as CONTRACT_SCORE_BUDGET,
  type RotaryTable as ContractRotaryTable,
  type SequenceRun as ContractSequenceRun,
  causalMask as contractCausalMask,
  gatherSequenceRows as contractGatherSequenceRows,
  mlaAttention as contractMlaAttention,
  sequenceRuns as contractSequenceRuns,
  slotMap as contractSlotMap,
} from '@dsa/backend';

/** @deprecated Import `mlaAttention` from `@dsa/backend`, where the kernel and its composite are defined. */
export const mlaAttention = contractMlaAttention;
/** @deprecated Import `causalMask` from `@dsa/backend`. */
export const causalMask = contractCausalMask;
/** @deprecated Import `gatherSequenceRows` from `@dsa/backend`. */
export const gatherSequenceRows = contractGatherSequenceRows;
/** @deprecated Import `sequenceRuns` from `@dsa/backend`. */
export const sequenceRuns = contractSequenceRuns;
/** @deprecated Import `slotMap` from `@dsa/backend`. */
export const slotMap = contractSlotMap;
/** @deprecated Import `SCORE_BUDGET` from `@dsa/backend`. */
export const SCORE_BUDGET = CONTRACT_SCORE_BUDGET;
/** @deprecated Import the `SequenceRun` type from `@dsa/backend`. */
export type SequenceRun = ContractSequenceRun;
/** @deprecated Import the `RotaryTable` type from `@dsa/backend`. */
export type RotaryTable = ContractRotaryTable;
