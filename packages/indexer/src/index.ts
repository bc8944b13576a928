export { Indexer } from './indexer.js';
export { indexerTopK } from './indexer-top-k.js';
export type { IndexerDims, IndexerPrecision, IndexerWeights } from './indexer-weights.js';
