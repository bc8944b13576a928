import type { ModelConfig, ModelSummary } from '@dsa/runtime';

/**
 * Floating-point operations (multiply and add counted apart) of one forward over `tokens` new tokens
 * of a sequence that already holds `start` tokens, as the kernels compute it:
 * - every weight matrix a token touches: 2 · (active parameters − embedding table − norms) per token;
 * - absorbed MLA attention per query at position p and head: 2 · (C + R) for each attended position's
 *   score and 2 · C for its value, over p + 1 positions (dense) or min(p + 1, index_topk) (sparse);
 * - the lightning indexer (sparse only) per query: 2 · Hi · Di per cached position for the scores
 *   plus Hi for the weighted head sum.
 * Softmax, norms, RoPE and routing are left out (a few FLOPs per element, well under 1%).
 */
export function forwardFlops(options: {
  config: ModelConfig;
  summary: ModelSummary;
  attention: 'sparse' | 'dense';
  start: number;
  tokens: number;
}): number {
  const { config, summary, attention, start, tokens } = options;
  const b = summary.breakdown;
  const matrixParams = summary.paramsActive - b.embedding - b.norms;
  const c = config.kvLoraRank;
  const r = config.qkRopeHeadDim;
  const h = config.nHeads;
  const ix = attention === 'sparse' ? config.indexer : null;
  let attended = 0; // Σ over queries of the positions attention reads
  let scanned = 0; // Σ over queries of the positions the indexer scores
  for (let p = start; p < start + tokens; p++) {
    attended += ix ? Math.min(p + 1, ix.indexTopk) : p + 1;
    scanned += p + 1;
  }
  const attentionFlops = config.nLayers * h * (2 * (c + r) + 2 * c) * attended;
  const indexerFlops = ix
    ? config.nLayers * (2 * ix.indexNHeads * ix.indexHeadDim + ix.indexNHeads) * scanned
    : 0;
  return 2 * matrixParams * tokens + attentionFlops + indexerFlops;
}
