import type { AttentionBatch, Backend, LatentCache, RotaryTable } from '@dsa/backend';
import { addRmsNorm, Workspace } from '@dsa/backend';
import {
  FIXED_TOPK,
  Indexer,
  type IndexerPrecision,
  type IndexerProjections,
  type IndexerStep,
  type TopkPolicy,
} from '@dsa/indexer';
import { denseAttentionRows, Mla } from '@dsa/mla';
import { Mlp, Moe } from '@dsa/moe';
import { narrow, select, type TensorView, tensorView } from '@dsa/tensor';
import { Checkpoint } from '../checkpoint/checkpoint.js';
import { type ModelConfig, parseModelConfig } from '../config/model-config.js';
import { mlaSoftmaxScale, ropeFrequencies } from '../config/yarn.js';
import { GgufCheckpoint } from '../gguf/gguf-checkpoint.js';
import { isGgufPath } from '../gguf/gguf-path.js';
import { runtimeSettings } from '../runtime-settings.js';
import { type DecodeGraphStats, DecodeGraphs } from './decode-graphs.js';
import { PagedKvCache } from './kv-cache.js';
import { type LatentCacheFormat, parseLatentCacheFormat } from './latent-cache-format.js';
import { summarizeModel } from './model-summary.js';
import { type LoadProgress, loadModelWeights, type ModelWeights } from './model-weights.js';
import { Sampler } from './sampler.js';
import { controlSelection, type Selector } from './selectors.js';
import {
  attentionBatch,
  type ForwardEntry,
  layoutStep,
  type StepInputs,
  stepInputs,
  stepInputsLength,
} from './step-inputs.js';
import { StepMemory } from './step-memory.js';
import { awaited, runEagerly, runRecorded, type StepProgram } from './step-program.js';

/** Attention over every cached position (`dense`) or over the indexer's top-k (`sparse`, DSA). */
export type AttentionMode = 'sparse' | 'dense';

/** Options of {@link DeepseekModel.load}. */
export interface ModelOptions {
  /** Indexer score precision (default `fp32`). */
  readonly indexer?: IndexerPrecision;
  /** Attention mode (default `sparse` for DSA checkpoints; dense models are always dense). */
  readonly attention?: AttentionMode;
  /** Tokens the KV cache pool holds, over all sequences (default: min(max_position_embeddings, 16384)). */
  readonly cacheTokens?: number;
  /** Alternatively, bytes to give the KV cache pool (latent + indexer caches of every layer); sets its token count. */
  readonly kvCacheMemory?: number;
  /** Alternatively, the fraction of the device's free memory (after the weights) to give the KV cache pool. */
  readonly kvCacheFraction?: number;
  /** Receives loading progress. */
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Receives informational loading lines (GGUF tensor types dequantized at load). */
  readonly log?: (line: string) => void;
  /**
   * Capture decode-only steps as graphs per batch bucket and replay them (default true; used only when
   * the backend has `captureGraph` and the fused kernels a graph needs; `DSA_GRAPHS=0` turns it off).
   */
  readonly graphs?: boolean;
  /**
   * How the MLA latent cache stores each token's `[C | R]` row: `f32` (exact against the fixtures; the
   * default, except on a backend whose `capabilities.exactLatentCache` names a narrower format giving the same
   * results, such as the cpu backend's bf16 precision), `bf16` (half the memory and bytes read per attended
   * token), or `fp8`, DeepSeek's 656-byte
   * layout (e4m3 NoPE with a power-of-two scale per 128 values, bf16 RoPE: 0.28× the f32 bytes at
   * 512 + 64; what FlashMLA's sparse decode and vLLM keep). See docs/benchmarks.md for its accuracy.
   */
  readonly latentCache?: LatentCacheFormat;
  /** How many positions the indexer selects per query (default: the checkpoint's `index_topk`). */
  readonly indexTopk?: number;
  /** Adaptive top-k: how much of the selection each query attends to (default `fixed`: all of it). */
  readonly topkPolicy?: TopkPolicy;
  /**
   * Workspace bytes one step may use (its activations; default: no limit). Prefill is then chunked
   * through {@link DeepseekModel.stepRows} so a long prompt's activations stay within it (V3.2-sized
   * attention takes about 1.1 MB per prefill token). See {@link StepMemory}.
   */
  readonly stepMemory?: number;
}

/**
 * How a step chooses the positions each query attends to. The model's defaults come from its load
 * options; {@link ForwardOptions.selection} overrides them for one step (evaluation, studies).
 */
export interface SelectionSettings {
  /** `sparse` (attend to the selection) or `dense` (every causal position). */
  readonly attention: AttentionMode;
  /** Positions selected per query (k). */
  readonly indexTopk: number;
  /** Adaptive top-k policy applied to the indexer's selection. */
  readonly topkPolicy: TopkPolicy;
  /** Who selects: the trained `indexer`, or the `window` / `random` controls. */
  readonly selector: Selector;
  /** Seed of the `random` selector. */
  readonly seed: number;
}

/** What {@link ForwardResult.probe} reports for each probed query row and layer. */
export interface AttentionProbe {
  /** The probed step rows. */
  readonly rows: readonly number[];
  /**
   * f32 [layers, rows]: the share of the dense attention distribution (head-summed, L1-normalised, from
   * this step's queries and cache) on the positions the selector chose; NaN for layers without an indexer.
   */
  readonly selectedMass: Float32Array;
  /** i32 [layers, rows]: positions attended (the selection's size when sparse, else the causal count). */
  readonly attended: Int32Array;
}

/** What a forward step can return besides logits. */
export interface ForwardOptions {
  /** Logits for every new token (`all`) or only each entry's last token (`last`, default). */
  readonly logits?: 'all' | 'last';
  /** Record the residual stream after each layer (as transformers reports `hidden_states`). */
  readonly captureHidden?: boolean;
  /** Record each layer's selected positions. */
  readonly captureTopk?: boolean;
  /** Override the model's selection settings for this step. */
  readonly selection?: Partial<SelectionSettings>;
  /**
   * Measure, for these step rows, how much dense attention mass each layer's selection keeps
   * (the selection is made even when attention is dense, and then not used).
   */
  readonly probe?: {
    /** Step rows to probe (indices into the step's tokens, in entry order). */
    readonly rows: readonly number[];
  };
}

/** The result of {@link DeepseekModel.forward}. Device tensors stay valid until the next forward. */
export interface ForwardResult {
  /** f32 [rows, V] on the device. */
  readonly logits: TensorView;
  /** f32 [layers + 1, S, D] on the host: embedding, residual after layers 0..L-2, final normed output. */
  readonly hidden?: Float32Array;
  /** i32 [layers, S, K] on the host: ascending selected positions, -1 padded (K = index_topk). */
  readonly topk?: Int32Array;
  /** Present when {@link ForwardOptions.probe} asked for it. */
  readonly probe?: AttentionProbe;
}

/**
 * A DeepSeek-V3.2 (DSA) or DeepSeek-V3 model on a backend: weights, rotary table, the paged KV
 * cache, and a forward step over any mix of sequences (prefill chunks and decode tokens).
 */
export class DeepseekModel {
  /** Scratch allocator for the intermediates of forward steps. */
  readonly workspace: Workspace;
  /** The paged latent and indexer-key cache shared by all sequences: the only writer of their tokens. */
  readonly cache: PagedKvCache;
  /** Picks tokens from the logits of a step, on the device. */
  readonly sampler: Sampler;
  /** RoPE inverse frequencies and YaRN attention factor, on the device. */
  readonly rotary: RotaryTable;
  /** `sparse` (indexer top-k) or `dense` attention; always `dense` without an indexer. */
  readonly attention: AttentionMode;
  /** Precision of the indexer scores and key cache. */
  readonly indexerPrecision: IndexerPrecision;
  /** The selection every step uses unless {@link ForwardOptions.selection} overrides it. */
  readonly selection: SelectionSettings;
  private readonly mla: Mla[];
  private readonly indexers: (Indexer | null)[];
  private readonly feedForward: (Mlp | Moe)[];
  private readonly graphs: DecodeGraphs | null;
  private readonly stepMemory: StepMemory;
  /** Host time spent in forward steps and in the indexer (milliseconds; exact for eager backends). */
  readonly timings = {
    /** Total time in {@link DeepseekModel.forward}. */
    forwardMs: 0,
    /**
     * Part of it spent in the lightning indexer: its key writes, scores and selection (its projections wk,
     * weights_proj and wq_b run inside the attention's `linears` calls and count as attention).
     */
    indexerMs: 0,
  };

  private constructor(
    /** The backend that runs the kernels. */
    readonly backend: Backend,
    /** The parsed `config.json`. */
    readonly config: ModelConfig,
    /** The model's weights on the backend. */
    readonly weights: ModelWeights,
    options: ModelOptions,
  ) {
    this.attention = config.indexer ? (options.attention ?? 'sparse') : 'dense';
    this.indexerPrecision = options.indexer ?? 'fp32';
    const indexTopk = options.indexTopk ?? config.indexer?.indexTopk ?? 0;
    if (config.indexer && !(Number.isInteger(indexTopk) && indexTopk >= 1)) {
      throw new RangeError(`indexTopk must be a positive integer, got ${options.indexTopk}`);
    }
    this.selection = {
      attention: this.attention,
      indexTopk,
      topkPolicy: options.topkPolicy ?? FIXED_TOPK,
      selector: 'indexer',
      seed: 0,
    };
    if (config.indexer && this.indexerPrecision === 'fp8') {
      const di = config.indexer.indexHeadDim;
      if (di > 128 || (di & (di - 1)) !== 0) {
        throw new Error(`fp8 indexer needs index_head_dim to be a power of two <= 128, got ${di}`);
      }
    }
    this.workspace = new Workspace(backend);
    this.stepMemory = new StepMemory(options.stepMemory ?? null);
    this.sampler = new Sampler(backend, this.workspace);
    const latentCache = parseLatentCacheFormat(
      options.latentCache ?? backend.capabilities.exactLatentCache ?? 'f32',
    );
    const summary = summarizeModel(config, { latentCache, indexerPrecision: this.indexerPrecision });
    const bytesPerToken = summary.latentCacheBytesPerToken + summary.indexerCacheBytesPerToken;
    const tokens =
      options.cacheTokens ??
      (options.kvCacheMemory !== undefined
        ? Math.floor(options.kvCacheMemory / bytesPerToken)
        : options.kvCacheFraction !== undefined
          ? Math.floor((backend.device.memoryFreeBytes * options.kvCacheFraction) / bytesPerToken)
          : Math.min(config.maxPositionEmbeddings, 16384));
    if (!(tokens >= 1)) {
      throw new RangeError(
        `KV cache budget of ${options.kvCacheMemory} bytes holds no token (${bytesPerToken} bytes per token)`,
      );
    }
    this.cache = new PagedKvCache(backend, config, {
      tokens,
      indexerPrecision: this.indexerPrecision,
      latentCache,
    });
    const { invFreq, attentionFactor } = ropeFrequencies(config.rope, config.qkRopeHeadDim);
    const freqBuffer = backend.allocate(invFreq.byteLength, 'weights');
    const freqView = tensorView(freqBuffer, 'f32', [invFreq.length]);
    backend.upload(freqView, invFreq);
    this.rotary = { invFreq: freqView, attentionFactor };
    const mlaDims = {
      dim: config.dim,
      nHeads: config.nHeads,
      qLoraRank: config.qLoraRank,
      kvLoraRank: config.kvLoraRank,
      qkNopeHeadDim: config.qkNopeHeadDim,
      qkRopeHeadDim: config.qkRopeHeadDim,
      vHeadDim: config.vHeadDim,
      normEps: config.normEps,
      softmaxScale: mlaSoftmaxScale(config),
    };
    const route = {
      nGroup: config.nGroup,
      topkGroup: config.topkGroup,
      topk: config.nActivatedExperts,
      routedScalingFactor: config.routedScalingFactor,
      normalize: config.normTopkProb,
      scoring: config.scoreFunc,
    };
    this.mla = weights.layers.map((l) => new Mla(backend, mlaDims, l.self_attn));
    this.indexers = weights.layers.map((l) =>
      l.indexer && config.indexer
        ? new Indexer(
            backend,
            { ...config.indexer, qkRopeHeadDim: config.qkRopeHeadDim },
            l.indexer,
            this.indexerPrecision,
          )
        : null,
    );
    this.feedForward = weights.layers.map((l) =>
      l.mlp ? new Mlp(backend, l.mlp) : new Moe(backend, l.moe!, route),
    );
    this.graphs = this.graphsUsable(options)
      ? new DecodeGraphs(
          backend,
          this.workspace,
          Math.ceil(Math.min(this.cache.capacityTokens, config.maxPositionEmbeddings) / this.cache.blockSize),
        )
      : null;
  }

  /**
   * Whether decode steps can be captured: the backend captures graphs and has every fused kernel that
   * keeps a step free of host work (mlaAttention, moeExperts, indexerTopk for sparse attention).
   */
  private graphsUsable(options: ModelOptions): boolean {
    const backend = this.backend;
    if (options.graphs === false || !runtimeSettings().graphs) return false;
    // Graphs are captured for the checkpoint's own top-k with every selected position attended.
    if (this.selection.topkPolicy.kind !== 'fixed') return false;
    if (this.selection.indexTopk !== this.config.indexer?.indexTopk) return false;
    if (!backend.captureGraph || !backend.capabilities.graphCapture) return false;
    if (!backend.fused.mlaAttention) return false;
    if (this.feedForward.some((f) => f instanceof Moe && !f.recordable)) return false;
    if (this.attention === 'sparse' && this.indexers.some((i) => i) && !backend.fused.indexerTopk)
      return false;
    return true;
  }

  /** Counters of the captured decode graphs, or null when decode steps run eagerly. */
  get graphStats(): DecodeGraphStats | null {
    return this.graphs?.stats ?? null;
  }

  /**
   * Loads a model onto `backend`: `config.json` and the safetensors weights of the folder `dir`, or, when
   * `dir` names a `.gguf` file, a `deepseek32`/`deepseek2` GGUF file (see {@link GgufCheckpoint}).
   */
  static async load(backend: Backend, dir: string, options: ModelOptions = {}): Promise<DeepseekModel> {
    if (isGgufPath(dir)) {
      const gguf = await GgufCheckpoint.open(dir, options.log, {
        nativeQ8_0: backend.capabilities.linearWeightDtypes?.has('i8') ?? false,
      });
      try {
        const weights = await loadModelWeights(backend, gguf, gguf.config, options.onProgress);
        return new DeepseekModel(backend, gguf.config, weights, options);
      } finally {
        await gguf.close();
      }
    }
    const checkpoint = await Checkpoint.open(dir);
    try {
      const config = parseModelConfig(await checkpoint.readJson('config.json'), `${dir}/config.json`);
      const weights = await loadModelWeights(backend, checkpoint, config, options.onProgress);
      return new DeepseekModel(backend, config, weights, options);
    } finally {
      await checkpoint.close();
    }
  }

  /**
   * Tokens a step should take, at most `limit`: with the `stepMemory` option, as many as keep the step's
   * workspace within it (measured on the steps run so far; at most 64 before the first), else `limit`.
   * Callers that chunk a prefill (the engine, the bench) size their chunks with it.
   */
  stepRows(limit: number): number {
    return this.stepMemory.rows(limit);
  }

  /**
   * Runs one step: appends each entry's tokens to its sequence's cache and returns logits.
   * Prefill chunks and decode tokens of many sequences can share a step. A decode-only step on a model
   * with graphs replays a captured graph of the same step; any other runs eagerly.
   */
  async forward(entries: readonly ForwardEntry[], options: ForwardOptions = {}): Promise<ForwardResult> {
    const started = performance.now();
    const plain = !options.captureHidden && !options.captureTopk && !options.selection && !options.probe;
    const result =
      (plain && this.graphs ? this.forwardDecode(this.graphs, entries) : null) ??
      (await this.forwardEager(entries, options));
    for (const entry of entries) this.cache.commitBlocks(entry.sequence);
    this.timings.forwardMs += performance.now() - started;
    return result;
  }

  /** A step run as it goes: inputs packed in the workspace, host work awaited, captures downloaded. */
  private async forwardEager(
    entries: readonly ForwardEntry[],
    options: ForwardOptions,
  ): Promise<ForwardResult> {
    const backend = this.backend;
    const ws = this.workspace;
    const config = this.config;
    const selection = { ...this.selection, ...options.selection };
    ws.reset();
    const rows = entries.reduce((n, e) => n + e.tokens.length, 0);
    const layout = layoutStep(
      this.cache,
      entries,
      (width) =>
        stepInputs(
          ws.tensor('i32', [stepInputsLength(rows, entries.length, width)]),
          rows,
          entries.length,
          width,
        ),
      -1,
    );
    backend.upload(layout.inputs.all, layout.inputs.packed);
    const d = config.dim;
    const topkWidth = selection.indexTopk;
    const probeRows = options.probe?.rows ?? null;
    const plan: StepPlan = {
      inputs: layout.inputs,
      batch: attentionBatch(layout.inputs, this.cache.blockSize),
      maxContext: layout.maxContext,
      selection,
      headRows: options.logits === 'all' ? null : layout.lastRows,
      record: false,
      hidden: options.captureHidden ? ws.tensor('f32', [config.nLayers + 1, rows, d]) : null,
      topk:
        options.captureTopk && config.indexer ? ws.tensor('i32', [config.nLayers, rows, topkWidth]) : null,
      probe: probeRows
        ? {
            rows: probeRows,
            selectedMass: new Float32Array(config.nLayers * probeRows.length).fill(Number.NaN),
            attended: new Int32Array(config.nLayers * probeRows.length),
          }
        : null,
    };
    const logits = await runEagerly(this.step(plan));
    this.stepMemory.observe(rows, ws.stepPeak);
    const result: { logits: TensorView; hidden?: Float32Array; topk?: Int32Array; probe?: AttentionProbe } = {
      logits,
    };
    if (plan.probe) result.probe = plan.probe;
    if (plan.hidden) {
      result.hidden = new Float32Array((config.nLayers + 1) * rows * d);
      await backend.download(plan.hidden, result.hidden);
    }
    if (plan.topk) {
      result.topk = new Int32Array(config.nLayers * rows * topkWidth);
      await backend.download(plan.topk, result.topk);
    }
    return result;
  }

  /**
   * The one layer loop of every step, eager or recorded: embed, per layer norm → MLA projection (writing
   * the latent cache) → indexer (writing its key cache, selecting) → attention → norm → feed-forward,
   * then the final norm and the LM head over `plan.headRows`. Returns logits [rows, V].
   */
  private *step(plan: StepPlan): StepProgram<TensorView> {
    const backend = this.backend;
    const k = backend.kernels;
    const ws = this.workspace;
    const config = this.config;
    const { inputs, batch, selection, hidden, probe } = plan;
    const s = inputs.rows;
    const d = config.dim;
    // Sparse selection only matters once some query sees more positions than index_topk; before that
    // every causal position is selected and attention is exactly dense (spec §4.6), but the indexer
    // key cache is still written.
    const sparse = selection.attention === 'sparse' && config.indexer !== null;
    const selectTopk = (sparse || probe !== null) && plan.maxContext > selection.indexTopk;

    const h = ws.tensor('f32', [s, d]); // residual stream
    k.gatherRows(h, this.weights.embed_tokens, inputs.tokens);
    if (hidden) backend.copy(select(hidden, 0, 0), h);
    const x = ws.tensor('f32', [s, d]); // normed input of each sub-layer
    const ffnOut = ws.tensor('f32', [s, d]); // the previous layer's feed-forward output, added at the next norm
    for (let layer = 0; layer < config.nLayers; layer++) {
      const w = this.weights.layers[layer]!;
      const mark = ws.mark();
      if (layer > 0) {
        addRmsNorm(backend, x, h, ffnOut, w.input_layernorm, config.normEps);
        if (hidden) backend.copy(select(hidden, 0, layer), h);
      } else {
        k.rmsNorm(x, h, w.input_layernorm, config.normEps);
      }
      const mla = this.mla[layer]!;
      const latent = this.cache.latent[layer]!;
      // The indexer's projections of x and of the query latent go with the attention's own (one pass over each
      // input's weights); it scores queries only where the trained indexer selects.
      const indexer = this.indexers[layer];
      const scores = selectTopk && plan.selection.selector === 'indexer';
      const extra = indexer?.projectionWeights(scores);
      const projection = mla.project(ws, x, batch.positions, this.rotary, latent, inputs.writeSlots, extra);
      const indexerProjections = indexer?.projectionsFrom(projection.extra, scores);
      let indices = yield* this.selectPositions(
        plan,
        layer,
        x,
        projection.qr ?? x,
        selectTopk,
        indexerProjections,
      );
      if (probe) yield this.probeLayer(probe, layer, projection.q, latent, batch, indices, sparse);
      if (!sparse) indices = null;
      const attention = mla.attend(ws, projection, latent, batch, indices);
      addRmsNorm(backend, x, h, attention, w.post_attention_layernorm, config.normEps);
      const ffn = this.feedForward[layer]!;
      if (ffn instanceof Mlp) ffn.forward(ws, x, ffnOut);
      else if (plan.record) ffn.record(ws, x, ffnOut);
      else yield ffn.forward(ws, x, ffnOut);
      ws.rewind(mark);
    }
    if (config.nLayers > 0) addRmsNorm(backend, x, h, ffnOut, this.weights.norm, config.normEps);
    else k.rmsNorm(x, h, this.weights.norm, config.normEps);
    if (hidden) backend.copy(select(hidden, 0, config.nLayers), x);

    const rows = plan.headRows;
    let selected = x;
    if (rows) {
      selected = ws.tensor('f32', [rows.length, d]);
      const index = ws.tensor('i32', [rows.length]);
      backend.upload(index, rows);
      k.gatherRows(selected, x, index);
    }
    const logits = ws.tensor('f32', [selected.shape[0]!, config.vocabSize]);
    k.linear(logits, selected, this.weights.lm_head);
    return logits;
  }

  /**
   * A layer's indexer: writes this step's keys into its key cache and, when `selectTopk`, selects the
   * positions each query attends to (i32 [S, K], or null), as the step's selection says; records them
   * into `plan.topk` when asked. Null for layers without an indexer.
   */
  private *selectPositions(
    plan: StepPlan,
    layer: number,
    x: TensorView,
    qr: TensorView,
    selectTopk: boolean,
    projections: IndexerProjections | undefined,
  ): StepProgram<TensorView | null> {
    const indexer = this.indexers[layer];
    if (!indexer) return null;
    const backend = this.backend;
    const ws = this.workspace;
    const { batch, selection } = plan;
    const width = selection.indexTopk;
    const started = performance.now();
    const step: IndexerStep = {
      workspace: ws,
      x,
      qr,
      positions: batch.positions,
      rotary: this.rotary,
      keyCache: this.cache.indexerKeys[layer]!,
      writeSlots: plan.inputs.writeSlots,
      batch,
      ...(projections ? { projections } : {}),
    };
    let indices: TensorView | null = null;
    if (!selectTopk) {
      indexer.forward(step, false);
    } else if (selection.selector !== 'indexer') {
      indexer.forward(step, false);
      indices = ws.tensor('i32', [plan.inputs.rows, width]);
      backend.upload(
        indices,
        controlSelection(selection.selector, batch.host.positions, width, selection.seed, layer),
      );
    } else if (selection.topkPolicy.kind === 'fixed') {
      indices = indexer.forward(step, true, width);
    } else {
      indices = (yield* awaited(indexer.forwardAdaptive(step, width, selection.topkPolicy))).indices;
    }
    this.timings.indexerMs += performance.now() - started;
    if (plan.topk) {
      const target = select(plan.topk, 0, layer);
      if (indices) backend.copy(target, indices);
      else backend.upload(target, denseSelection(batch.host.positions, width));
    }
    return indices;
  }

  /** Fills one layer of an {@link AttentionProbe}: selected dense mass and attended count per probed row. */
  private async probeLayer(
    probe: AttentionProbe,
    layer: number,
    q: TensorView,
    latent: LatentCache,
    batch: AttentionBatch,
    indices: TensorView | null,
    sparse: boolean,
  ): Promise<void> {
    const n = probe.rows.length;
    const positions = batch.host.positions;
    let hostIndices: Int32Array | null = null;
    const k = indices?.shape[1] ?? 0;
    if (indices) {
      hostIndices = new Int32Array(indices.shape[0]! * k);
      await this.backend.download(indices, hostIndices);
    }
    const dense = this.indexers[layer]
      ? await denseAttentionRows(
          this.backend,
          this.workspace,
          q,
          latent,
          batch,
          probe.rows,
          mlaSoftmaxScale(this.config),
        )
      : null;
    probe.rows.forEach((row, i) => {
      const visible = positions[row]! + 1;
      let count = visible;
      let mass = 1;
      if (hostIndices) {
        count = 0;
        mass = 0;
        for (let j = 0; j < k; j++) {
          const t = hostIndices[row * k + j]!;
          if (t < 0) continue;
          count++;
          mass += dense ? dense[i]![t]! : 0;
        }
      }
      probe.attended[layer * n + i] = sparse ? count : visible;
      if (dense) probe.selectedMass[layer * n + i] = mass;
    });
  }

  /**
   * A decode-only step (one token per entry) through a captured graph: lays the step out into the
   * bucket's static inputs (real rows first, then padding rows on the scratch block), uploads them in
   * one copy, and replays (or warms up, or captures) the graph of (bucket, context bound, attention
   * path), recorded from the same {@link DeepseekModel.step} as eager steps. Returns null, touching
   * nothing, when the step does not qualify.
   */
  private forwardDecode(graphs: DecodeGraphs, entries: readonly ForwardEntry[]): ForwardResult | null {
    const n = entries.length;
    if (n === 0 || entries.some((e) => e.tokens.length !== 1)) return null;
    if (new Set(entries.map((e) => e.sequence)).size !== n) return null; // one row per sequence
    const bucket = graphs.bucketFor(n);
    const bs = this.cache.blockSize;
    const width = graphs.width;
    if (bucket === null || entries.some((e) => Math.ceil((e.sequence.length + 1) / bs) > width)) return null;
    const layout = layoutStep(this.cache, entries, () => graphs.inputs(bucket), this.cache.scratchBlock);
    const inputs = layout.inputs;
    this.backend.upload(inputs.all, inputs.packed);
    const maxContext = layout.maxContext;
    const selectTopk = this.attention === 'sparse' && maxContext > this.selection.indexTopk;
    // Kernels may size their launches from the host positions (the cuda indexer's grid and score rows):
    // give them a bound, a power of two at least one block, that the graph of this key never outgrows.
    const bound = Math.min(width * bs, Math.max(bs, 2 ** Math.ceil(Math.log2(maxContext))));
    const plan: StepPlan = {
      inputs,
      batch: attentionBatch(inputs, bs, new Int32Array(bucket).fill(bound - 1)),
      maxContext,
      selection: this.selection,
      headRows: null,
      record: true,
      hidden: null,
      topk: null,
      probe: null,
    };
    this.workspace.reset();
    const logits = graphs.run(`${bucket}/${bound}/${selectTopk ? 'sparse' : 'dense'}`, () =>
      runRecorded(this.step(plan)),
    );
    return { logits: narrow(logits, 0, 0, n) };
  }

  /** Frees weights, cache, workspace and captured graphs. */
  dispose(): void {
    this.graphs?.dispose();
    this.workspace.dispose();
    this.cache.dispose();
    for (const b of this.weights.buffers) b.dispose();
  }
}

/** One step for {@link DeepseekModel.step}: its laid-out inputs and what to compute and record. */
interface StepPlan {
  /** The step's inputs on the device (uploaded). */
  readonly inputs: StepInputs;
  /** The attention batch over `inputs`. */
  readonly batch: AttentionBatch;
  /** Largest position any query reads, plus one. */
  readonly maxContext: number;
  /** How queries choose the positions they attend to. */
  readonly selection: SelectionSettings;
  /** Rows the LM head reads (each entry's last), or null for every row. */
  readonly headRows: Int32Array | null;
  /** Enqueue only, for a graph capture: MoE through its recordable path, no host work. */
  readonly record: boolean;
  /** f32 [layers + 1, S, D] receiving the residual stream, or null. */
  readonly hidden: TensorView | null;
  /** i32 [layers, S, K] receiving each layer's selection, or null. */
  readonly topk: TensorView | null;
  /** The attention probe being filled, or null. */
  readonly probe: AttentionProbe | null;
}

/** Ascending positions 0..p per query, -1 padded: what top-k selects when every causal position fits. */
function denseSelection(positions: Int32Array, width: number): Int32Array {
  const out = new Int32Array(positions.length * width).fill(-1);
  positions.forEach((p, i) => {
    for (let t = 0; t <= Math.min(p, width - 1); t++) out[i * width + t] = t;
  });
  return out;
}
