/** Names of the built-in model presets. */
export type PresetName = 'tiny' | 'small' | 'v32-dims';

/** Hugging Face `config.json` fields of a DeepSeek-V3.2 model, as the presets write them. */
export type HfConfig = Record<string, unknown>;

/**
 * The `config.json` fields every DeepSeek-V3.2 model of the presets shares (architecture, token ids,
 * activation, router scoring, dtype), in the order they are written.
 */
export const PRESET_COMMON_CONFIG: Readonly<HfConfig> = {
  architectures: ['DeepseekV32ForCausalLM'],
  model_type: 'deepseek_v32',
  attention_bias: false,
  bos_token_id: 0,
  eos_token_id: 1,
  hidden_act: 'silu',
  norm_topk_prob: true,
  rms_norm_eps: 1e-6,
  scoring_func: 'sigmoid',
  topk_method: 'noaux_tc',
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  use_cache: true,
};

/** The `config.json` fields a preset sets beyond {@link PRESET_COMMON_CONFIG}, in the order they are written. */
// biome-ignore format: the header of PRESET_VALUES
const PRESET_FIELDS = [
  'vocab_size', 'hidden_size', 'intermediate_size', 'moe_intermediate_size', 'num_hidden_layers',
  'first_k_dense_replace', 'num_attention_heads', 'num_key_value_heads', 'q_lora_rank', 'kv_lora_rank',
  'qk_nope_head_dim', 'qk_rope_head_dim', 'v_head_dim', 'n_routed_experts', 'n_shared_experts',
  'num_experts_per_tok', 'n_group', 'topk_group', 'routed_scaling_factor', 'index_n_heads', 'index_head_dim',
  'index_topk', 'max_position_embeddings', 'rope_theta',
] as const;

/**
 * Each preset's values of {@link PRESET_FIELDS} (`num_hidden_layers` is the default), then its YaRN factor and
 * original context.
 */
// biome-ignore format: a table, one preset a row
const PRESET_VALUES: Record<PresetName, readonly number[]> = {
  //          vocab   hidden inter  moe   layers dense heads kv-heads q-lora kv-lora nope rope v    experts shared active groups topk-groups scale index-heads index-dim index-topk positions theta  yarn original
  tiny:       [1024,   128,   256,   32,   4,     1,    4,    4,       64,    32,     16,  8,   16,  16,     1,     4,     4,     2,          2.5,  8,          16,       32,        256,      10000, 4,   64],
  small:      [32000,  1024,  2816,  96,   8,     1,    16,   16,      384,   128,    64,  32,  64,  32,     1,     4,     4,     2,          2.5,  8,          64,       256,       65536,    10000, 16,  4096],
  'v32-dims': [129280, 7168,  18432, 2048, 2,     1,    128,  128,     1536,  512,    128, 64,  128, 16,     1,     8,     8,     4,          2.5,  64,         128,      2048,      163840,   10000, 40,  4096],
};

/**
 * The model presets, as `config.json` objects (see docs/presets.md for the table).
 * - `tiny`: the fixtures' architecture (4 layers, hidden 128, top-k 32).
 * - `small`: about 160M parameters: hidden 1024, 8 layers, 16 heads, 32 experts (4 active, 4 groups), indexer 8 × 64, top-k 256.
 * - `v32-dims`: DeepSeek-V3.2's per-layer sizes exactly, with 16 routed experts in 8 groups; `layers` defaults to 2.
 */
export function presetConfig(name: PresetName, layers?: number): HfConfig {
  const values = PRESET_VALUES[name];
  const config: HfConfig = { ...PRESET_COMMON_CONFIG };
  PRESET_FIELDS.forEach((field, i) => {
    config[field] = field === 'num_hidden_layers' ? (layers ?? values[i]!) : values[i]!;
  });
  const [factor, original] = values.slice(PRESET_FIELDS.length);
  config.rope_scaling = {
    type: 'yarn',
    factor,
    original_max_position_embeddings: original,
    beta_fast: 32,
    beta_slow: 1,
    mscale: 1,
    mscale_all_dim: 1,
  };
  return config;
}

/** Every preset name. */
export const PRESET_NAMES: readonly PresetName[] = ['tiny', 'small', 'v32-dims'];
