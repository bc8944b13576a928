import {
  type AttentionBatch,
  type Backend,
  type IndexerKeyCache,
  indexerRunScores,
  indexerTopk,
  linears,
  type RotaryTable,
  SCORE_BUDGET,
  sequenceRuns,
  type Workspace,
} from '@dsa/backend';
import { broadcastTo, narrow, reshape, splitDim, type TensorView } from '@dsa/tensor';
import type {
  IndexerProjected,
  IndexerProjections,
  IndexerProjectionWeights,
} from './indexer-projections.js';
import type { IndexerDims, IndexerPrecision, IndexerWeights } from './indexer-weights.js';
import { applyTopkPolicy, type TopkPolicy } from './topk-policy.js';

/** The fp8 block size of indexer activations: one scale per 128-wide head vector. */
const FP8_BLOCK = 128;

/** The inputs of one step of an {@link Indexer} (one row per token of the step's sequences). */
export interface IndexerStep {
  /** Scratch memory for the step's activations. */
  readonly workspace: Workspace;
  /** The attention-norm output [S, D]. */
  readonly x: TensorView;
  /** The query latent [S, qLora] (`q_a_layernorm(wq_a · x)`). */
  readonly qr: TensorView;
  /** i32 [S]: each row's position in its sequence. */
  readonly positions: TensorView;
  /** The model's RoPE tables. */
  readonly rotary: RotaryTable;
  /** The layer's indexer key cache. */
  readonly keyCache: IndexerKeyCache;
  /** i32 [S]: the key-cache slot each row's key is written to. */
  readonly writeSlots: TensorView;
  /** The step's sequences: which cached positions each row may select. */
  readonly batch: AttentionBatch;
  /**
   * wk · x and, when the step selects, weights_proj · x and wq_b · qr, if the caller computed them (with the
   * attention's own projections: {@link Indexer.projectionWeights}); else the indexer computes them.
   */
  readonly projections?: IndexerProjections;
}

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
   * Computes this step's keys from `step.x` [S, D] (the attention-norm output) into `step.keyCache` at
   * `step.writeSlots`, then selects, for each query (from `step.qr` [S, qLora]), the top-`k` cached positions
   * (`k` defaults to the checkpoint's `index_topk`). Returns `indices` i32 [S, k]. With `selectTopk`
   * false only the key cache is written (the caller attends densely because every causal position fits).
   */
  forward(step: IndexerStep, selectTopk: boolean, k: number = this.dims.indexTopk): TensorView | null {
    const projected = this.project(step, selectTopk);
    this.storeKeys(step, projected.key);
    if (!selectTopk) return null;
    const { workspace, x, keyCache, batch } = step;
    const { qHeads, weights } = this.queries(step, projected);
    const indices = workspace.tensor('i32', [x.shape[0]!, k]);
    indexerTopk(this.backend, workspace, indices, qHeads, weights, keyCache, batch, k);
    return indices;
  }

  /**
   * {@link Indexer.forward} with an adaptive {@link TopkPolicy}: selects the top-`k` as `forward` does,
   * then keeps, per query, the part of it the policy asks for (scores are read back to the host, so
   * this is for studies and evaluation, not the decode hot path). Returns the indices i32 [S, k]
   * (kept positions ascending, then -1) and the kept count per query.
   */
  async forwardAdaptive(
    step: IndexerStep,
    k: number,
    policy: TopkPolicy,
  ): Promise<{
    /** i32 [S, k]: kept positions ascending, then -1. */
    indices: TensorView;
    /** i32 [S]: positions kept per query. */
    kept: Int32Array;
  }> {
    const projected = this.project(step, true);
    this.storeKeys(step, projected.key);
    const { workspace, x, keyCache, batch } = step;
    const { qHeads, weights } = this.queries(step, projected);
    const s = x.shape[0]!;
    const indices = workspace.tensor('i32', [s, k]);
    const kept = new Int32Array(s);
    for (const run of sequenceRuns(batch, this.dims.indexNHeads, SCORE_BUDGET)) {
      const mark = workspace.mark();
      const score = indexerRunScores(this.backend, workspace, qHeads, weights, keyCache, batch, run);
      const runIndices = narrow(indices, 0, run.start, run.count);
      this.backend.kernels.topk(runIndices, null, score, k);
      const t = score.shape[1]!;
      const hostScores = new Float32Array(run.count * t);
      const hostIndices = new Int32Array(run.count * k);
      await this.backend.download(score, hostScores);
      await this.backend.download(runIndices, hostIndices);
      const { probs, entropy } = selectionStats(hostScores, hostIndices, run.count, t, k);
      kept.set(applyTopkPolicy(policy, hostIndices, probs, entropy, run.count, k), run.start);
      this.backend.upload(runIndices, hostIndices);
      workspace.rewind(mark);
    }
    return { indices, kept };
  }

  /**
   * The weights of the indexer's projections, for a caller that computes them with its own projections of the
   * same inputs (into {@link IndexerStep.projections}): wk of x and, when the step selects, weights_proj of x and
   * wq_b of the query latent.
   */
  projectionWeights(selectTopk: boolean): IndexerProjectionWeights {
    const w = this.weights;
    return selectTopk ? { x: [w.wk, w.weights_proj], qr: [w.wq_b] } : { x: [w.wk], qr: [] };
  }

  /**
   * The {@link IndexerStep.projections} behind the outputs of {@link Indexer.projectionWeights}`(selectTopk)`'s
   * weights, in their order. Throws when the counts are not those weights' counts.
   */
  projectionsFrom(projected: IndexerProjected, selectTopk: boolean): IndexerProjections {
    const want = this.projectionWeights(selectTopk);
    if (projected.x.length !== want.x.length || projected.qr.length !== want.qr.length)
      throw new Error(
        `indexer projections: ${projected.x.length} of x and ${projected.qr.length} of qr for ` +
          `${want.x.length} and ${want.qr.length} weights (selectTopk ${selectTopk})`,
      );
    const [key, weights = null] = projected.x;
    return { key: key!, weights, q: projected.qr[0] ?? null };
  }

  /**
   * The step's projections: the caller's ({@link IndexerStep.projections}, checked to hold what the step needs),
   * else key = wk · x and, when the step selects, weights = weights_proj · x (one `linears` call) and
   * q = wq_b · qr.
   */
  private project(step: IndexerStep, selectTopk: boolean): IndexerProjections {
    const { workspace, x, qr, projections } = step;
    if (projections) {
      if (selectTopk && (!projections.weights || !projections.q))
        throw new Error(
          'IndexerStep.projections lack weights_proj · x or wq_b · qr, which a selecting step needs',
        );
      return projections;
    }
    const s = x.shape[0]!;
    const { indexNHeads: hi, indexHeadDim: di } = this.dims;
    const key = workspace.tensor('f32', [s, di]);
    if (!selectTopk) {
      this.backend.kernels.linear(key, x, this.weights.wk);
      return { key, weights: null, q: null };
    }
    const weights = workspace.tensor('f32', [s, hi]);
    linears(this.backend, [key, weights], x, [this.weights.wk, this.weights.weights_proj]);
    const q = workspace.tensor('f32', [s, hi * di]);
    this.backend.kernels.linear(q, qr, this.weights.wq_b);
    return { key, weights, q };
  }

  /**
   * q [S, Hi, Di] (rotated, fp8-rounded in fp8 mode) and the head weights [S, Hi] with the constants folded in,
   * in place in the step's projections wq_b · qr and weights_proj · x.
   */
  private queries(
    { workspace, x, positions, rotary }: IndexerStep,
    projected: IndexerProjections,
  ): {
    qHeads: TensorView;
    weights: TensorView;
  } {
    const k = this.backend.kernels;
    const { indexNHeads: hi, indexHeadDim: di, qkRopeHeadDim: r } = this.dims;
    const s = x.shape[0]!;
    const rope = { layout: 'half' as const, scale: rotary.attentionFactor };
    // q [S, Hi, Di] = rope(wq_b · qr) on the first R dims of each head.
    const q = projected.q!;
    const weights = projected.weights!;
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
    const constant = workspace.tensor('f32', [1, 1]);
    k.fill(constant, hi ** -0.5 * di ** -0.5);
    k.binary(weights, weights, broadcastTo(constant, [s, hi]), 'mul');
    return { qHeads, weights };
  }

  /** key [S, Di] = rope(LayerNorm(wk · x)) on the first R dims (half-split pairs), stored at `writeSlots`; `key` holds wk · x. */
  private storeKeys(
    { workspace, x, positions, rotary, keyCache, writeSlots }: IndexerStep,
    key: TensorView,
  ): void {
    const k = this.backend.kernels;
    const { indexHeadDim: di, qkRopeHeadDim: r } = this.dims;
    const s = x.shape[0]!;
    k.layerNorm(key, key, this.weights.k_norm_weight, this.weights.k_norm_bias, 1e-6);
    k.rope(splitDim(narrow(key, 1, 0, r), 1, [1, r]), positions, rotary.invFreq, {
      layout: 'half',
      scale: rotary.attentionFactor,
    });
    if (this.precision === 'fp32') {
      k.scatterRows(keyCache.keys, key, writeSlots);
      return;
    }
    if (!keyCache.scales || keyCache.keys.dtype !== 'f8_e4m3') {
      throw new Error('fp8 indexer needs an f8_e4m3 key cache with per-token scales');
    }
    k.hadamard(key, key);
    const k8 = workspace.tensor('f8_e4m3', [s, di]);
    const scale = workspace.tensor('f32', [s, Math.ceil(di / FP8_BLOCK)]);
    k.quantizeFp8(k8, scale, key, { blockSize: FP8_BLOCK, scaleFormat: 'ue8m0' });
    k.scatterRows(keyCache.keys, k8, writeSlots);
    k.scatterRows(splitDim(keyCache.scales, 0, [-1, 1]), narrow(scale, 1, 0, 1), writeSlots);
  }
}

/**
 * For each row of masked index scores (`scores`, shape S × T, -inf where not causal) and its selection
 * (`indices`, S × K), returns each selected key's probability under the softmax over every causal key
 * (`probs`, S × K, 0 where the index is -1) and that softmax's entropy in nats (`entropy`, one per row).
 */
export function selectionStats(
  scores: Float32Array,
  indices: Int32Array,
  rows: number,
  t: number,
  k: number,
): {
  /** f32 [S, K]: each selected key's softmax probability (0 where the index is -1). */
  probs: Float32Array;
  /** f32 [S]: entropy of each row's softmax, in nats. */
  entropy: Float32Array;
} {
  const probs = new Float32Array(rows * k);
  const entropy = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = scores.subarray(r * t, (r + 1) * t);
    let max = Number.NEGATIVE_INFINITY;
    for (const v of row) if (v > max) max = v;
    if (max === Number.NEGATIVE_INFINITY) continue;
    let z = 0;
    let weighted = 0;
    for (const v of row) {
      if (v === Number.NEGATIVE_INFINITY) continue;
      const e = Math.exp(v - max);
      z += e;
      weighted += e * (v - max);
    }
    // H = log z − E[v − max]
    entropy[r] = Math.log(z) - weighted / z;
    for (let j = 0; j < k; j++) {
      const i = indices[r * k + j]!;
      probs[r * k + j] = i >= 0 ? Math.exp(row[i]! - max) / z : 0;
    }
  }
  return { probs, entropy };
}
