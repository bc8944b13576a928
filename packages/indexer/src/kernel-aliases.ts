// The indexer's kernel moved beside the backend contract (issue 13): these names stay for
// compatibility and go in a later minor release.
import {
  indexerRunScores as contractIndexerRunScores,
  indexerTopk as contractIndexerTopk,
} from '@dsa/backend';

/**
 * @deprecated Import `indexerTopk` (the one spelling of top-k) from `@dsa/backend`, where the kernel and its
 * composite are defined.
 */
export const indexerTopK = contractIndexerTopk;

/** @deprecated Import `indexerRunScores` from `@dsa/backend`. */
export const indexerRunScores = contractIndexerRunScores;
