export { Indexer, selectionStats } from './indexer.js';
export { indexerRunScores, indexerTopK } from './indexer-top-k.js';
export type { IndexerDims, IndexerPrecision, IndexerWeights } from './indexer-weights.js';
export {
  applyTopkPolicy,
  FIXED_TOPK,
  formatTopkPolicy,
  parseTopkPolicy,
  type TopkPolicy,
} from './topk-policy.js';
