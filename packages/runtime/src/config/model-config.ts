import type { MlaDims } from '@dsa/mla';
import { ConfigError } from './config-error.js';

/** RoPE settings, from `rope_parameters` or the published `rope_theta` + `rope_scaling` form. */
export interface RopeConfig {
  /** RoPE base `rope_theta`. */
  readonly theta: number;
  /** `default` (plain RoPE) or `yarn`. */
  readonly type: 'default' | 'yarn';
  /** YaRN context extension factor. */
  readonly factor: number;
  /** Context length the model was pretrained with (`original_max_position_embeddings`). */
  readonly originalMaxPositionEmbeddings: number;
  /** YaRN `beta_fast`: rotations where interpolation stops (high frequencies kept). */
  readonly betaFast: number;
  /** YaRN `beta_slow`: rotations where interpolation is complete (low frequencies scaled). */
  readonly betaSlow: number;
  /** YaRN `mscale` (0 when absent). */
  readonly mscale: number;
  /** YaRN `mscale_all_dim`; also scales the MLA softmax (0 when absent). */
  readonly mscaleAllDim: number;
  /** Explicit YaRN attention factor, when the config gives one. */
  readonly attentionFactor?: number;
  /** Round the YaRN correction range to integers (HF `truncate`, default true). */
  readonly truncate: boolean;
}

/** FP8 block quantization of the checkpoint's linear weights. */
export interface QuantizationConfig {
  /** Quantization method (`quant_method`). */
  readonly method: 'fp8';
  /** FP8 element format (`fmt`). */
  readonly format: 'e4m3';
  /** `[rows, columns]` of one scale block. */
  readonly blockSize: readonly [number, number];
  /** `ue8m0`: the scales are powers of two. */
  readonly scaleFormat: 'ue8m0' | 'f32';
}

/**
 * The architecture of a DeepSeek-V3 / V3.2 (DSA) checkpoint, with DeepSeek's names camel-cased.
 * Parsed from the Hugging Face `config.json` by {@link parseModelConfig}. The attention sizes (`dim` =
 * hidden_size, `nHeads`, `qLoraRank`, `kvLoraRank`, `qkNopeHeadDim`, `qkRopeHeadDim`, `vHeadDim`) are those of
 * `MlaDims` of `@dsa/mla`, named once.
 */
export interface ModelConfig
  extends Pick<
    MlaDims,
    'dim' | 'nHeads' | 'qLoraRank' | 'kvLoraRank' | 'qkNopeHeadDim' | 'qkRopeHeadDim' | 'vHeadDim'
  > {
  /** `model_type`; `deepseek_v32` has the DSA indexer. */
  readonly modelType: 'deepseek_v32' | 'deepseek_v3';
  /** vocab_size (V). */
  readonly vocabSize: number;
  /** intermediate_size: width of the dense SwiGLU layers. */
  readonly interDim: number;
  /** moe_intermediate_size: width of one expert. */
  readonly moeInterDim: number;
  /** num_hidden_layers. */
  readonly nLayers: number;
  /** Per layer: true where the feed-forward block is a dense MLP, false for MoE. */
  readonly denseLayers: readonly boolean[];
  /** n_routed_experts (E). */
  readonly nRoutedExperts: number;
  /** n_shared_experts. */
  readonly nSharedExperts: number;
  /** num_experts_per_tok (A). */
  readonly nActivatedExperts: number;
  /** n_group (G). */
  readonly nGroup: number;
  /** topk_group: groups kept per token. */
  readonly topkGroup: number;
  /** routed_scaling_factor. */
  readonly routedScalingFactor: number;
  /** scoring_func of the router. */
  readonly scoreFunc: 'sigmoid' | 'softmax';
  /** norm_topk_prob: normalize the selected expert weights to sum to 1. */
  readonly normTopkProb: boolean;
  /** The DSA lightning indexer; null for dense MLA models (`deepseek_v3`). */
  readonly indexer: {
    /** index_n_heads (Hi). */
    readonly indexNHeads: number;
    /** index_head_dim (Di). */
    readonly indexHeadDim: number;
    /** index_topk (K). */
    readonly indexTopk: number;
  } | null;
  /** rms_norm_eps. */
  readonly normEps: number;
  /** RoPE and YaRN settings. */
  readonly rope: RopeConfig;
  /** max_position_embeddings: longest supported context. */
  readonly maxPositionEmbeddings: number;
  /** bos_token_id, or null when absent. */
  readonly bosTokenId: number | null;
  /** eos_token_id as a list (empty when absent). */
  readonly eosTokenIds: readonly number[];
  /** tie_word_embeddings: lm_head shares embed_tokens. */
  readonly tieWordEmbeddings: boolean;
  /** FP8 quantization of the linear weights, or null for unquantized checkpoints. */
  readonly quantization: QuantizationConfig | null;
  /** Multi-token-prediction layers stored after the main layers (skipped when loading). */
  readonly numNextnPredictLayers: number;
}

type Json = Record<string, unknown>;

/** Largest integer a config field may hold: sizes are indexed with 32-bit integers. */
export const MAX_CONFIG_INTEGER = 2 ** 31 - 1;
/** Most layers a config may declare (DeepSeek-V3.2 has 61; per-layer tables are sized by this). */
export const MAX_LAYERS = 4096;

/**
 * Parses and validates a Hugging Face `config.json` of `model_type` `deepseek_v32` or `deepseek_v3`.
 * Every missing, mistyped or inconsistent field throws a {@link ConfigError} naming `file` and the field.
 */
export function parseModelConfig(json: unknown, file = 'config.json'): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError(file, '(root)', 'expected a JSON object');
  }
  const c = json as Json;
  // Sizes and counts are bounded before anything is sized by them (kernels index with 32-bit integers).
  const int = (field: string, options: { min?: number; max?: number; fallback?: number } = {}): number => {
    const value = c[field] ?? options.fallback;
    if (value === undefined) throw new ConfigError(file, field, 'is missing');
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw new ConfigError(file, field, `expected an integer, got ${JSON.stringify(value)}`);
    }
    if (value < (options.min ?? 1))
      throw new ConfigError(file, field, `must be >= ${options.min ?? 1}, got ${value}`);
    const max = options.max ?? MAX_CONFIG_INTEGER;
    if (value > max) throw new ConfigError(file, field, `must be <= ${max}, got ${value}`);
    return value;
  };
  const num = (field: string, fallback?: number): number => {
    const value = c[field] ?? fallback;
    if (value === undefined) throw new ConfigError(file, field, 'is missing');
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ConfigError(file, field, `expected a number, got ${JSON.stringify(value)}`);
    }
    return value;
  };

  const modelType = c.model_type;
  if (modelType !== 'deepseek_v32' && modelType !== 'deepseek_v3') {
    throw new ConfigError(
      file,
      'model_type',
      `expected "deepseek_v32" or "deepseek_v3", got ${JSON.stringify(modelType)}`,
    );
  }
  const nLayers = int('num_hidden_layers', { max: MAX_LAYERS });
  const nHeads = int('num_attention_heads');
  const qLoraRaw = c.q_lora_rank;
  const qLoraRank = qLoraRaw === null || qLoraRaw === undefined ? null : int('q_lora_rank');
  const kvLoraRank = int('kv_lora_rank');
  const qkNopeHeadDim = int('qk_nope_head_dim');
  const qkRopeHeadDim = int('qk_rope_head_dim');
  if (qkRopeHeadDim % 2 !== 0)
    throw new ConfigError(file, 'qk_rope_head_dim', `must be even, got ${qkRopeHeadDim}`);
  const vHeadDim = int('v_head_dim');
  const nRoutedExperts = int('n_routed_experts', { min: 0, fallback: 0 });
  const nGroup = int('n_group', { fallback: 1 });
  const topkGroup = int('topk_group', { fallback: nGroup });
  const nActivatedExperts = int('num_experts_per_tok', { min: 0, fallback: 0 });
  if (nRoutedExperts > 0) {
    if (nRoutedExperts % nGroup !== 0) {
      throw new ConfigError(
        file,
        'n_group',
        `${nGroup} groups do not divide n_routed_experts ${nRoutedExperts}`,
      );
    }
    if (topkGroup > nGroup) {
      throw new ConfigError(file, 'topk_group', `${topkGroup} exceeds n_group ${nGroup}`);
    }
    if (nActivatedExperts < 1 || nActivatedExperts > (nRoutedExperts / nGroup) * topkGroup) {
      throw new ConfigError(
        file,
        'num_experts_per_tok',
        `${nActivatedExperts} is not in [1, ${(nRoutedExperts / nGroup) * topkGroup}] (experts available in the kept groups)`,
      );
    }
  }

  // Dense or MoE per layer: `mlp_layer_types` when given, else first_k_dense_replace + moe_layer_freq.
  let denseLayers: boolean[];
  if (Array.isArray(c.mlp_layer_types)) {
    const types = c.mlp_layer_types as unknown[];
    if (types.length !== nLayers) {
      throw new ConfigError(
        file,
        'mlp_layer_types',
        `has ${types.length} entries, num_hidden_layers is ${nLayers}`,
      );
    }
    denseLayers = types.map((t, i) => {
      if (t !== 'dense' && t !== 'sparse') {
        throw new ConfigError(
          file,
          `mlp_layer_types[${i}]`,
          `expected "dense" or "sparse", got ${JSON.stringify(t)}`,
        );
      }
      return t === 'dense';
    });
  } else {
    const firstDense = int('first_k_dense_replace', { min: 0, fallback: 0 });
    const freq = int('moe_layer_freq', { fallback: 1 });
    denseLayers = Array.from(
      { length: nLayers },
      (_, i) => nRoutedExperts === 0 || i < firstDense || i % freq !== 0,
    );
  }
  if (denseLayers.some((d) => !d) && nRoutedExperts === 0) {
    throw new ConfigError(file, 'n_routed_experts', 'MoE layers are configured but n_routed_experts is 0');
  }

  let indexer: ModelConfig['indexer'] = null;
  if (modelType === 'deepseek_v32') {
    const indexHeadDim = int('index_head_dim');
    if (indexHeadDim < qkRopeHeadDim) {
      throw new ConfigError(
        file,
        'index_head_dim',
        `${indexHeadDim} is smaller than qk_rope_head_dim ${qkRopeHeadDim}`,
      );
    }
    indexer = { indexNHeads: int('index_n_heads'), indexHeadDim, indexTopk: int('index_topk') };
  }

  const scoring = c.scoring_func ?? 'sigmoid';
  if (scoring !== 'sigmoid' && scoring !== 'softmax') {
    throw new ConfigError(
      file,
      'scoring_func',
      `expected "sigmoid" or "softmax", got ${JSON.stringify(scoring)}`,
    );
  }
  const eos = c.eos_token_id;
  const eosTokenIds = eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos];
  if (!eosTokenIds.every((e) => Number.isInteger(e))) {
    throw new ConfigError(
      file,
      'eos_token_id',
      `expected an integer or a list of integers, got ${JSON.stringify(eos)}`,
    );
  }
  const bos = c.bos_token_id;
  if (bos !== undefined && bos !== null && !Number.isInteger(bos)) {
    throw new ConfigError(file, 'bos_token_id', `expected an integer, got ${JSON.stringify(bos)}`);
  }

  const maxPositionEmbeddings = int('max_position_embeddings', { fallback: 163840 });
  return {
    modelType,
    vocabSize: int('vocab_size'),
    dim: int('hidden_size'),
    interDim: int('intermediate_size'),
    moeInterDim: nRoutedExperts > 0 ? int('moe_intermediate_size') : 0,
    nLayers,
    denseLayers,
    nHeads,
    qLoraRank,
    kvLoraRank,
    qkNopeHeadDim,
    qkRopeHeadDim,
    vHeadDim,
    nRoutedExperts,
    nSharedExperts: int('n_shared_experts', { min: 0, fallback: 0 }),
    nActivatedExperts,
    nGroup,
    topkGroup,
    routedScalingFactor: num('routed_scaling_factor', 1),
    scoreFunc: scoring,
    normTopkProb: c.norm_topk_prob === undefined ? true : c.norm_topk_prob === true,
    indexer,
    normEps: num('rms_norm_eps', 1e-6),
    rope: parseRope(c, file, maxPositionEmbeddings),
    maxPositionEmbeddings,
    bosTokenId: (bos as number | null | undefined) ?? null,
    eosTokenIds: eosTokenIds as number[],
    tieWordEmbeddings: c.tie_word_embeddings === true,
    quantization: parseQuantization(c.quantization_config, file),
    numNextnPredictLayers: int('num_nextn_predict_layers', { min: 0, fallback: 0 }),
  };
}

function parseRope(c: Json, file: string, maxPositionEmbeddings: number): RopeConfig {
  // Newer configs: rope_parameters {rope_type, rope_theta, factor, ...}; published: rope_theta + rope_scaling {type, ...}.
  const fromParameters = typeof c.rope_parameters === 'object' && c.rope_parameters !== null;
  const field = fromParameters ? 'rope_parameters' : 'rope_scaling';
  const p = ((fromParameters ? c.rope_parameters : c.rope_scaling) ?? {}) as Json;
  if (typeof p !== 'object' || Array.isArray(p))
    throw new ConfigError(file, field, 'expected an object or null');
  const theta = (p.rope_theta ?? c.rope_theta ?? 10000) as number;
  if (typeof theta !== 'number' || !(theta > 0)) {
    throw new ConfigError(
      file,
      fromParameters ? 'rope_parameters.rope_theta' : 'rope_theta',
      `expected a positive number, got ${JSON.stringify(theta)}`,
    );
  }
  const rawType = (p.rope_type ?? p.type ?? 'default') as string;
  if (rawType !== 'default' && rawType !== 'yarn') {
    throw new ConfigError(
      file,
      `${field}.rope_type`,
      `unsupported RoPE type ${JSON.stringify(rawType)} (expected "default" or "yarn")`,
    );
  }
  const number = (key: string, fallback: number): number => {
    const value = p[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ConfigError(file, `${field}.${key}`, `expected a number, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  if (rawType === 'yarn' && p.factor === undefined)
    throw new ConfigError(file, `${field}.factor`, 'is missing (required for yarn)');
  const factor = number('factor', 1);
  if (rawType === 'yarn' && !(factor >= 1))
    throw new ConfigError(file, `${field}.factor`, `must be >= 1, got ${factor}`);
  return {
    theta,
    type: rawType,
    factor,
    originalMaxPositionEmbeddings: number('original_max_position_embeddings', maxPositionEmbeddings),
    betaFast: number('beta_fast', 32),
    betaSlow: number('beta_slow', 1),
    mscale: number('mscale', 0),
    mscaleAllDim: number('mscale_all_dim', 0),
    ...(p.attention_factor !== undefined && p.attention_factor !== null
      ? { attentionFactor: number('attention_factor', 1) }
      : {}),
    truncate: p.truncate === undefined ? true : p.truncate === true,
  };
}

function parseQuantization(q: unknown, file: string): QuantizationConfig | null {
  if (q === undefined || q === null) return null;
  if (typeof q !== 'object' || Array.isArray(q))
    throw new ConfigError(file, 'quantization_config', 'expected an object');
  const p = q as Json;
  if (p.quant_method !== 'fp8') {
    throw new ConfigError(
      file,
      'quantization_config.quant_method',
      `only "fp8" is supported, got ${JSON.stringify(p.quant_method)}`,
    );
  }
  if (p.fmt !== undefined && p.fmt !== 'e4m3') {
    throw new ConfigError(
      file,
      'quantization_config.fmt',
      `only "e4m3" is supported, got ${JSON.stringify(p.fmt)}`,
    );
  }
  const block = p.weight_block_size ?? [128, 128];
  if (!Array.isArray(block) || block.length !== 2 || !block.every((b) => Number.isInteger(b) && b > 0)) {
    throw new ConfigError(
      file,
      'quantization_config.weight_block_size',
      `expected two positive integers, got ${JSON.stringify(block)}`,
    );
  }
  return {
    method: 'fp8',
    format: 'e4m3',
    blockSize: [block[0], block[1]],
    scaleFormat: p.scale_fmt === 'ue8m0' ? 'ue8m0' : 'f32',
  };
}
