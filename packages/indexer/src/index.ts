export { Indexer, type IndexerStep, selectionStats } from './indexer.js';
export type {
  IndexerProjected,
  IndexerProjections,
  IndexerProjectionWeights,
} from './indexer-projections.js';
export type { IndexerDims, IndexerPrecision, IndexerWeights } from './indexer-weights.js';
export { indexerRunScores, indexerTopK } from './kernel-aliases.js';
export {
  applyTopkPolicy,
  FIXED_TOPK,
  formatTopkPolicy,
  parseTopkPolicy,
  type TopkPolicy,
} from './topk-policy.js';
