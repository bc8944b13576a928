import type { ModelConfig } from '../config/model-config.js';
import { type LatentCacheFormat, latentRowBytes } from './latent-cache-format.js';

/** Sizes derived from a config: what `dsa inspect` prints and what benchmarks divide by. */
export interface ModelSummary {
  /** Parameters of the main model (MTP layers excluded). */
  readonly paramsTotal: number;
  /** Parameters touched per token: everything but the routed experts not chosen. */
  readonly paramsActive: number;
  /** Parameters by component. */
  readonly breakdown: Readonly<
    Record<
      | 'embedding'
      | 'attention'
      | 'indexer'
      | 'dense_mlp'
      | 'routed_experts'
      | 'shared_experts'
      | 'router'
      | 'norms'
      | 'lm_head',
      number
    >
  >;
  /**
   * KV-cache bytes per token over all layers: the MLA latent row (C + R values) in the `latentCache`
   * format, (C + R) · 4 bytes for f32, · 2 for bf16, C + 4·⌈C/128⌉ + 2·R for fp8 (656 at 512 + 64).
   */
  readonly latentCacheBytesPerToken: number;
  /** Indexer key-cache bytes per token over all layers (Di keys at `indexerKeyBytes` + one f32 scale in fp8 mode). */
  readonly indexerCacheBytesPerToken: number;
}

/** Counts parameters and cache bytes for `config` (latent cache `f32` and fp32 indexer keys by default). */
export function summarizeModel(
  config: ModelConfig,
  options: { latentCache?: LatentCacheFormat; indexerPrecision?: 'fp32' | 'fp8' } = {},
): ModelSummary {
  const {
    dim,
    nHeads: h,
    kvLoraRank: c,
    qkNopeHeadDim: dn,
    qkRopeHeadDim: r,
    vHeadDim: dv,
    nLayers,
  } = config;
  const q = config.qLoraRank;
  const attention =
    (q !== null ? q * dim + q + h * (dn + r) * q : h * (dn + r) * dim) +
    (c + r) * dim +
    c +
    h * (dn + dv) * c +
    dim * h * dv;
  const ix = config.indexer;
  const indexer = ix
    ? ix.indexNHeads * ix.indexHeadDim * (q ?? dim) +
      ix.indexHeadDim * dim +
      2 * ix.indexHeadDim +
      ix.indexNHeads * dim
    : 0;
  const swiglu = (width: number) => 3 * width * dim;
  const dense = config.denseLayers.filter(Boolean).length;
  const moeLayers = nLayers - dense;
  const breakdown = {
    embedding: config.vocabSize * dim,
    attention: attention * nLayers,
    indexer: indexer * nLayers,
    dense_mlp: swiglu(config.interDim) * dense,
    routed_experts: swiglu(config.moeInterDim) * config.nRoutedExperts * moeLayers,
    shared_experts: swiglu(config.moeInterDim * config.nSharedExperts) * moeLayers,
    router: (config.nRoutedExperts * dim + config.nRoutedExperts) * moeLayers,
    norms: 2 * dim * nLayers + dim,
    lm_head: config.tieWordEmbeddings ? 0 : config.vocabSize * dim,
  };
  const paramsTotal = Object.values(breakdown).reduce((a, b) => a + b, 0);
  const inactiveExperts = config.nRoutedExperts - config.nActivatedExperts;
  const paramsActive = paramsTotal - swiglu(config.moeInterDim) * inactiveExperts * moeLayers;
  const fp8 = options.indexerPrecision === 'fp8';
  return {
    paramsTotal,
    paramsActive,
    breakdown,
    latentCacheBytesPerToken: latentRowBytes(options.latentCache ?? 'f32', c, r) * nLayers,
    indexerCacheBytesPerToken: ix ? (fp8 ? ix.indexHeadDim + 4 : ix.indexHeadDim * 4) * nLayers : 0,
  };
}
