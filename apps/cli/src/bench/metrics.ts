import type { LinearWeight } from '@dsa/backend';
import type { ModelConfig, ModelWeights } from '@dsa/runtime';
import { dtypeBytes, type TensorView, viewByteLength } from '@dsa/tensor';

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

/** A loaded model's weight bytes, split the way a decode step reads them. */
export interface WeightBytes {
  /** Every weight byte on the device (as uploaded: an fp8 checkpoint's dequantized `kv_b_proj` counts as f32). */
  readonly total: number;
  /** The token embedding table, of which a step reads one row per token (unless the LM head shares it). */
  readonly embedding: number;
  /** One row of it. */
  readonly embeddingRow: number;
  /** The routed experts (weights and block scales), read only where the router sends a token. */
  readonly routedExperts: number;
}

const linearBytes = (w: LinearWeight): number =>
  viewByteLength(w.weight) + (w.scaleInv ? viewByteLength(w.scaleInv) : 0);

/**
 * {@link WeightBytes} of `weights` from the tensors as uploaded, so that each part counts at its own dtype (a
 * GGUF Q8_0 import keeps an f32 embedding table beside ~1.06-byte weights; an fp8 checkpoint a bf16 one).
 */
export function weightBytesOf(weights: ModelWeights): WeightBytes {
  const embed = weights.embed_tokens;
  const tied = weights.lm_head.weight.buffer === embed.buffer;
  const embedding = tied ? 0 : viewByteLength(embed);
  const rows = embed.shape[0] ?? 1;
  let routedExperts = 0;
  for (const layer of weights.layers)
    for (const expert of layer.moe?.experts ?? [])
      routedExperts += linearBytes(expert.gate) + linearBytes(expert.up) + linearBytes(expert.down);
  return { total: weights.bytes, embedding, embeddingRow: embedding / rows, routedExperts };
}

/**
 * Bytes a decode step reads per token. Weights: every weight but the embedding table and the routed
 * experts, plus one embedding row per token, plus the routed experts a batch of `batch` tokens is expected
 * to hit under uniform routing (E·(1 − (1 − k/E)^batch)), each part at its own bytes; divided by `batch`.
 * Cache, per layer: sparse reads min(depth, index_topk) latent rows and `depth` indexer keys; dense reads
 * `depth` latent rows.
 */
export function decodeTraffic(options: {
  config: ModelConfig;
  weights: WeightBytes;
  attention: 'sparse' | 'dense';
  depth: number;
  batch: number;
  latentRowBytes: number;
  indexerRowBytes: number;
}): DecodeTraffic {
  const { config, weights, batch, depth } = options;
  const experts = config.nRoutedExperts;
  const expertHit = experts > 0 ? 1 - (1 - config.nActivatedExperts / experts) ** Math.max(1, batch) : 0;
  const stepBytes =
    weights.total -
    weights.embedding -
    weights.routedExperts +
    batch * weights.embeddingRow +
    weights.routedExperts * expertHit;
  const weightBytes = stepBytes / batch;
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
