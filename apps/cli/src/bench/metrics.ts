import type { ModelConfig, ModelSummary } from '@dsa/runtime';
import { dtypeBytes, type TensorView } from '@dsa/tensor';

/** Median, minimum and maximum of `values` (non-empty). */
export function stats(values: readonly number[]): { median: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** Bytes of one row (one token's slot) of a cache tensor. */
export function rowBytes(view: TensorView): number {
  return view.shape.slice(1).reduce((a, b) => a * b, 1) * dtypeBytes(view.dtype);
}

/** What a decode step reads from memory, per generated token. */
export interface DecodeTraffic {
  /** Weight bytes per token (the step's weight reads shared by its `batch` tokens). */
  readonly weightBytes: number;
  /** Latent + indexer cache bytes per token. */
  readonly cacheBytes: number;
}

/**
 * Bytes a decode step reads per token. Weights: the checkpoint's bytes per parameter (averaged over
 * `weightBytesTotal`) times the parameters a step touches: everything but the embedding table and the
 * routed experts, plus one embedding row per token, plus the routed experts a batch of `batch` tokens
 * is expected to hit under uniform routing (E·(1 − (1 − k/E)^batch)); divided by `batch`. Cache, per
 * layer: sparse reads min(depth, index_topk) latent rows and `depth` indexer keys; dense reads `depth`
 * latent rows.
 */
export function decodeTraffic(options: {
  config: ModelConfig;
  summary: ModelSummary;
  weightBytesTotal: number;
  attention: 'sparse' | 'dense';
  depth: number;
  batch: number;
  latentRowBytes: number;
  indexerRowBytes: number;
}): DecodeTraffic {
  const { config, summary, batch, depth } = options;
  const perParam = options.weightBytesTotal / summary.paramsTotal;
  const b = summary.breakdown;
  const experts = config.nRoutedExperts;
  const expertHit = experts > 0 ? 1 - (1 - config.nActivatedExperts / experts) ** Math.max(1, batch) : 0;
  const stepParams =
    summary.paramsTotal - b.embedding - b.routed_experts + batch * config.dim + b.routed_experts * expertHit;
  const weightBytes = (stepParams * perParam) / batch;
  const layers = config.nLayers;
  const sparse = options.attention === 'sparse' && config.indexer !== null;
  const cacheBytes = sparse
    ? layers *
      (Math.min(depth, config.indexer!.indexTopk) * options.latentRowBytes + depth * options.indexerRowBytes)
    : layers * depth * options.latentRowBytes;
  return { weightBytes, cacheBytes };
}

/**
 * A JS read probe for backends without a native one: sums a `bytes`-byte Float64Array on this thread,
 * best of 3 passes, in GB/s.
 */
export function jsReadBandwidth(bytes: number): number {
  const data = new Float64Array(Math.max(1, Math.floor(bytes / 8)));
  for (let i = 0; i < data.length; i++) data[i] = i & 1023;
  let best = 0;
  let sink = 0;
  for (let pass = 0; pass < 3; pass++) {
    const started = performance.now();
    let a = 0;
    let b = 0;
    let c = 0;
    let d = 0;
    const n = data.length - (data.length % 4);
    for (let i = 0; i < n; i += 4) {
      a += data[i]!;
      b += data[i + 1]!;
      c += data[i + 2]!;
      d += data[i + 3]!;
    }
    sink += a + b + c + d;
    const seconds = (performance.now() - started) / 1000;
    if (seconds > 0) best = Math.max(best, data.byteLength / seconds / 1e9);
  }
  if (Number.isNaN(sink)) throw new Error('unreachable');
  return best;
}
