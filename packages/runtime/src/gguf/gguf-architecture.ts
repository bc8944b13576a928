import { CheckpointError } from '../checkpoint/checkpoint-error.js';
import type { ModelConfig } from '../config/model-config.js';
import type { GgufFile } from './gguf-file.js';
import { type GgufValue, gguf } from './gguf-value.js';

/** llama.cpp's `expert_gating_func` values (`llama_expert_gating_func_type`). */
const GATING = { softmax: 1, sigmoid: 2 } as const;

/** The GGUF architecture name of a model: `deepseek32` with the DSA indexer, `deepseek2` without. */
export function ggufArchitecture(config: ModelConfig): 'deepseek32' | 'deepseek2' {
  return config.indexer ? 'deepseek32' : 'deepseek2';
}

/**
 * The architecture metadata llama.cpp's `deepseek32` / `deepseek2` loaders read, as its converter
 * (`DeepseekV2Model` / `DeepseekV32Model.set_gguf_parameters`) writes it: MLA as MQA with one KV head of
 * `kv_lora_rank + qk_rope_head_dim`, the `_mla` head sizes, MoE counts and gating, YaRN (with
 * `yarn_log_multiplier = 0.1 · mscale_all_dim`), and the indexer sizes.
 *
 * @throws CheckpointError naming `file` and the field for what llama.cpp cannot represent: dense layers
 *   that are not a leading block, a DSA model without `q_lora_rank`, or YaRN with `mscale` different from
 *   `mscale_all_dim` (GGUF keeps only the latter).
 */
export function architectureToGguf(config: ModelConfig, file: string): Map<string, GgufValue> {
  const fail = (field: string, message: string): never => {
    throw new CheckpointError(`${file}: ${field}: ${message}`, { file, tensor: field });
  };
  const arch = ggufArchitecture(config);
  const leadingDense = config.denseLayers.findIndex((d) => !d);
  const nDense = leadingDense < 0 ? config.nLayers : leadingDense;
  if (config.denseLayers.slice(nDense).some((d) => d)) {
    fail(
      'mlp_layer_types',
      `dense layers must come first (llama.cpp has only leading_dense_block_count); found ${JSON.stringify(config.denseLayers.map((d) => (d ? 'dense' : 'sparse')))}`,
    );
  }
  if (arch === 'deepseek32' && config.qLoraRank === null) {
    fail('q_lora_rank', 'llama.cpp deepseek32 needs a low-rank query (attn_q_a); this model has none');
  }
  const rope = config.rope;
  if (rope.type === 'yarn' && rope.mscale !== 0 && rope.mscale !== rope.mscaleAllDim) {
    fail(
      'rope_scaling.mscale',
      `${rope.mscale} differs from mscale_all_dim ${rope.mscaleAllDim}; GGUF stores only mscale_all_dim`,
    );
  }
  if (rope.attentionFactor !== undefined) {
    fail(
      'rope_scaling.attention_factor',
      'an explicit YaRN attention factor has no GGUF key llama.cpp reads for deepseek',
    );
  }
  const m = new Map<string, GgufValue>();
  const k = (key: string, value: GgufValue) => m.set(`${arch}.${key}`, value);
  k('block_count', gguf.u32(config.nLayers));
  k('context_length', gguf.u32(config.maxPositionEmbeddings));
  k('embedding_length', gguf.u32(config.dim));
  k('feed_forward_length', gguf.u32(config.interDim));
  k('attention.head_count', gguf.u32(config.nHeads));
  k('attention.head_count_kv', gguf.u32(1));
  k('rope.freq_base', gguf.f32(rope.theta));
  k('attention.layer_norm_rms_epsilon', gguf.f32(config.normEps));
  if (config.nRoutedExperts > 0) {
    k('expert_count', gguf.u32(config.nRoutedExperts));
    k('expert_used_count', gguf.u32(config.nActivatedExperts));
    k('expert_group_count', gguf.u32(config.nGroup));
    k('expert_group_used_count', gguf.u32(config.topkGroup));
  }
  k('expert_gating_func', gguf.u32(GATING[config.scoreFunc]));
  k('leading_dense_block_count', gguf.u32(nDense));
  k('vocab_size', gguf.u32(config.vocabSize));
  if (config.qLoraRank !== null) k('attention.q_lora_rank', gguf.u32(config.qLoraRank));
  k('attention.kv_lora_rank', gguf.u32(config.kvLoraRank));
  k('attention.key_length', gguf.u32(config.kvLoraRank + config.qkRopeHeadDim));
  k('attention.value_length', gguf.u32(config.kvLoraRank));
  k('attention.key_length_mla', gguf.u32(config.qkNopeHeadDim + config.qkRopeHeadDim));
  k('attention.value_length_mla', gguf.u32(config.vHeadDim));
  k('expert_feed_forward_length', gguf.u32(config.nRoutedExperts > 0 ? config.moeInterDim : config.interDim));
  k('expert_shared_count', gguf.u32(config.nSharedExperts));
  if (config.routedScalingFactor !== 1) k('expert_weights_scale', gguf.f32(config.routedScalingFactor));
  if (config.normTopkProb) k('expert_weights_norm', gguf.bool(true));
  k('rope.dimension_count', gguf.u32(config.qkRopeHeadDim));
  if (rope.type === 'yarn') {
    k('rope.scaling.type', gguf.string('yarn'));
    k('rope.scaling.factor', gguf.f32(rope.factor));
    k('rope.scaling.original_context_length', gguf.u32(rope.originalMaxPositionEmbeddings));
    k('rope.scaling.yarn_beta_fast', gguf.f32(rope.betaFast));
    k('rope.scaling.yarn_beta_slow', gguf.f32(rope.betaSlow));
    if (rope.mscaleAllDim !== 0) k('rope.scaling.yarn_log_multiplier', gguf.f32(0.1 * rope.mscaleAllDim));
  }
  if (config.indexer) {
    k('attention.indexer.head_count', gguf.u32(config.indexer.indexNHeads));
    k('attention.indexer.key_length', gguf.u32(config.indexer.indexHeadDim));
    k('attention.indexer.top_k', gguf.u32(config.indexer.indexTopk));
  }
  return m;
}

/**
 * A Hugging Face `config.json` object for a `deepseek32` / `deepseek2` GGUF file, from its architecture
 * metadata (the inverse of {@link architectureToGguf}); {@link parseModelConfig} validates it.
 *
 * @throws CheckpointError naming the file and key when the architecture is another one, or a required key
 *   is missing or mistyped.
 */
export function configFromGguf(file: GgufFile, vocabRows: number, tied: boolean): Record<string, unknown> {
  const fail = (key: string, message: string): never => {
    throw new CheckpointError(`${file.path}: ${key}: ${message}`, { file: file.path, tensor: key });
  };
  const archValue = file.get('general.architecture');
  const arch = archValue?.type === 'string' ? archValue.value : undefined;
  if (arch !== 'deepseek32' && arch !== 'deepseek2') {
    fail('general.architecture', `expected "deepseek32" or "deepseek2", found ${JSON.stringify(arch)}`);
  }
  const get = (key: string): GgufValue | undefined => file.get(`${arch}.${key}`);
  const num = (key: string, fallback?: number): number => {
    const v = get(key);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      return fail(`${arch}.${key}`, 'is missing');
    }
    if (typeof v.value === 'bigint') return Number(v.value);
    if (typeof v.value !== 'number') return fail(`${arch}.${key}`, `expected a number, found ${v.type}`);
    return v.value;
  };
  const f32 = (key: string, fallback?: number): number =>
    Number(Math.fround(num(key, fallback)).toPrecision(7));
  const nextn = num('nextn_predict_layers', 0);
  const nLayers = num('block_count') - nextn;
  const rope = num('rope.dimension_count');
  const gating = num('expert_gating_func', GATING.softmax);
  const hasMla = get('attention.key_length_mla') !== undefined;
  if (!hasMla) {
    fail(
      `${arch}.attention.key_length_mla`,
      'is missing (files from before llama.cpp split kv_b into k_b/v_b are not supported)',
    );
  }
  const config: Record<string, unknown> = {
    architectures: [arch === 'deepseek32' ? 'DeepseekV32ForCausalLM' : 'DeepseekV3ForCausalLM'],
    model_type: arch === 'deepseek32' ? 'deepseek_v32' : 'deepseek_v3',
    vocab_size: num('vocab_size', vocabRows),
    hidden_size: num('embedding_length'),
    intermediate_size: num('feed_forward_length'),
    moe_intermediate_size: num('expert_feed_forward_length'),
    num_hidden_layers: nLayers,
    first_k_dense_replace: num('leading_dense_block_count', 0),
    num_attention_heads: num('attention.head_count'),
    q_lora_rank: get('attention.q_lora_rank') === undefined ? null : num('attention.q_lora_rank'),
    kv_lora_rank: num('attention.kv_lora_rank'),
    qk_rope_head_dim: rope,
    qk_nope_head_dim: num('attention.key_length_mla') - rope,
    v_head_dim: num('attention.value_length_mla'),
    n_routed_experts: num('expert_count', 0),
    num_experts_per_tok: num('expert_used_count', 0),
    n_shared_experts: num('expert_shared_count', 0),
    n_group: num('expert_group_count', 1),
    topk_group: num('expert_group_used_count', num('expert_group_count', 1)),
    routed_scaling_factor: f32('expert_weights_scale', 1),
    norm_topk_prob: get('expert_weights_norm')?.value === true,
    scoring_func:
      gating === GATING.sigmoid
        ? 'sigmoid'
        : gating === GATING.softmax
          ? 'softmax'
          : fail(`${arch}.expert_gating_func`, `unsupported gating function ${gating}`),
    rms_norm_eps: f32('attention.layer_norm_rms_epsilon'),
    max_position_embeddings: num('context_length'),
    rope_theta: f32('rope.freq_base', 10000),
    tie_word_embeddings: tied,
    num_nextn_predict_layers: 0,
  };
  const scaling = get('rope.scaling.type');
  if (scaling !== undefined && scaling.value !== 'none') {
    if (scaling.value !== 'yarn')
      fail(`${arch}.rope.scaling.type`, `expected "yarn" or "none", found ${JSON.stringify(scaling.value)}`);
    const logMul = f32('rope.scaling.yarn_log_multiplier', 0);
    const mscale = Number((logMul / 0.1).toPrecision(7));
    config.rope_scaling = {
      type: 'yarn',
      factor: f32('rope.scaling.factor'),
      original_max_position_embeddings: num('rope.scaling.original_context_length'),
      beta_fast: f32('rope.scaling.yarn_beta_fast', 32),
      beta_slow: f32('rope.scaling.yarn_beta_slow', 1),
      mscale,
      mscale_all_dim: mscale,
    };
  }
  if (arch === 'deepseek32') {
    config.index_n_heads = num('attention.indexer.head_count');
    config.index_head_dim = num('attention.indexer.key_length');
    config.index_topk = num('attention.indexer.top_k');
  }
  return config;
}
