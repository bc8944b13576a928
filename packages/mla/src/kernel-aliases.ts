// MLA's attention kernel and the rotary table it shares with the indexer moved beside the backend
// contract (issue 13): these names stay for compatibility and go in a later minor release.
import { type RotaryTable as ContractRotaryTable, mlaAttention as contractMlaAttention } from '@dsa/backend';

/** @deprecated Import `mlaAttention` from `@dsa/backend`, where the kernel and its composite are defined. */
export const mlaAttention = contractMlaAttention;

/** @deprecated Import the `RotaryTable` type from `@dsa/backend`. */
export type RotaryTable = ContractRotaryTable;
