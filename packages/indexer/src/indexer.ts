import type { AttentionBatch, Backend, IndexerKeyCache, Workspace } from '@dsa/backend';
import type { RotaryTable } from '@dsa/mla';
import { broadcastTo, narrow, reshape, splitDim, type TensorView } from '@dsa/tensor';
import { indexerTopK } from './indexer-top-k.js';
import type { IndexerDims, IndexerPrecision, IndexerWeights } from './indexer-weights.js';

/** The fp8 block size of indexer activations: one scale per 128-wide head vector. */
const FP8_BLOCK = 128;

/**
 * The DSA lightning indexer of one layer: `score[s, t] = Σ_h w[s, h] · ReLU(q[s, h] · k[t])`
 * over causal positions, keeping the `index_topk` best per query (spec §4).
 */
export class Indexer {
  constructor(
    /** The backend that runs the kernels. */
    readonly backend: Backend,
    /** Indexer sizes: heads Hi, head dim Di, top-k K. */
    readonly dims: IndexerDims,
    /** The layer's indexer checkpoint tensors. */
    readonly weights: IndexerWeights,
    /** Whether scores are computed in f32 or DeepSeek's fp8 scheme. */
    readonly precision: IndexerPrecision,
  ) {}

  /**
   * Computes this step's keys from `x` [S, D] (the attention-norm output) into `keyCache` at
   * `writeSlots`, then selects, for each query (from `qr` [S, qLora]), the top-k cached positions.
   * Returns `indices` i32 [S, K]. With `selectTopK` false only the key cache is written (the caller
   * attends densely because every causal position fits in K).
   */
  forward(
    workspace: Workspace,
    x: TensorView,
    qr: TensorView,
    positions: TensorView,
    rotary: RotaryTable,
    keyCache: IndexerKeyCache,
    writeSlots: TensorView,
    batch: AttentionBatch,
    selectTopK: boolean,
  ): TensorView | null {
    const k = this.backend.kernels;
    const { indexNHeads: hi, indexHeadDim: di, qkRopeHeadDim: r, indexTopk } = this.dims;
    const s = x.shape[0]!;
    const rope = { layout: 'half' as const, scale: rotary.attentionFactor };

    // key [S, Di] = rope(LayerNorm(wk · x)) on the first R dims, half-split pairs.
    const key = workspace.tensor('f32', [s, di]);
    k.linear(key, x, this.weights.wk);
    k.layerNorm(key, key, this.weights.k_norm_weight, this.weights.k_norm_bias, 1e-6);
    k.rope(splitDim(narrow(key, 1, 0, r), 1, [1, r]), positions, rotary.invFreq, rope);
    this.storeKeys(workspace, key, keyCache, writeSlots);
    if (!selectTopK) return null;

    // q [S, Hi, Di] = rope(wq_b · qr) on the first R dims of each head.
    const q = workspace.tensor('f32', [s, hi * di]);
    k.linear(q, qr, this.weights.wq_b);
    const qHeads = splitDim(q, 1, [hi, di]);
    k.rope(narrow(qHeads, 2, 0, r), positions, rotary.invFreq, rope);
    if (this.precision === 'fp8') {
      // Rotate, quantize to e4m3 with a power-of-two scale per head, and dequantize (exact in f32).
      const rows = reshape(q, [s * hi, di]);
      k.hadamard(rows, rows);
      const q8 = workspace.tensor('f8_e4m3', [s * hi, di]);
      const scale = workspace.tensor('f32', [s * hi, Math.ceil(di / FP8_BLOCK)]);
      k.quantizeFp8(q8, scale, rows, { blockSize: FP8_BLOCK, scaleFormat: 'ue8m0' });
      k.dequantizeFp8(rows, q8, scale, { blockSize: FP8_BLOCK });
    }

    // weights [S, Hi] = weights_proj(x) · Hi^-0.5 · Di^-0.5 (the constant does not change the ranking).
    const weights = workspace.tensor('f32', [s, hi]);
    k.linear(weights, x, this.weights.weights_proj);
    const constant = workspace.tensor('f32', [1, 1]);
    k.fill(constant, hi ** -0.5 * di ** -0.5);
    k.binary(weights, weights, broadcastTo(constant, [s, hi]), 'mul');

    const indices = workspace.tensor('i32', [s, indexTopk]);
    indexerTopK(this.backend, workspace, indices, qHeads, weights, keyCache, batch, indexTopk);
    return indices;
  }

  private storeKeys(
    workspace: Workspace,
    key: TensorView,
    keyCache: IndexerKeyCache,
    writeSlots: TensorView,
  ): void {
    const k = this.backend.kernels;
    if (this.precision === 'fp32') {
      k.scatterRows(keyCache.keys, key, writeSlots);
      return;
    }
    if (!keyCache.scales || keyCache.keys.dtype !== 'f8_e4m3') {
      throw new Error('fp8 indexer needs an f8_e4m3 key cache with per-token scales');
    }
    const s = key.shape[0]!;
    const di = this.dims.indexHeadDim;
    k.hadamard(key, key);
    const k8 = workspace.tensor('f8_e4m3', [s, di]);
    const scale = workspace.tensor('f32', [s, Math.ceil(di / FP8_BLOCK)]);
    k.quantizeFp8(k8, scale, key, { blockSize: FP8_BLOCK, scaleFormat: 'ue8m0' });
    k.scatterRows(keyCache.keys, k8, writeSlots);
    k.scatterRows(splitDim(keyCache.scales, 0, [-1, 1]), narrow(scale, 1, 0, 1), writeSlots);
  }
}
