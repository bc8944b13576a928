// The indexer's kernel moved beside the backend contract (issue 13): these names stay for
// compatibility and go in a later minor release.
import {
  indexerRunScores as contractIndexerRunScores,
  indexerTopK as contractIndexerTopK,
} from '@dsa/backend';

/** @deprecated Import `indexerTopK` from `@dsa/backend`, where the kernel and its composite are defined. */
export const indexerTopK = contractIndexerTopK;

/** @deprecated Import `indexerRunScores` from `@dsa/backend`. */
export const indexerRunScores = contractIndexerRunScores;
