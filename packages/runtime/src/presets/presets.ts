/** Names of the built-in model presets. */
export type PresetName = 'tiny' | 'small' | 'v32-dims';

/** Hugging Face `config.json` fields of a DeepSeek-V3.2 model, as the presets write them. */
export type HfConfig = Record<string, unknown>;

const COMMON: HfConfig = {
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

/**
 * The model presets, as `config.json` objects (see docs/presets.md for the table).
 * - `tiny`: the fixtures' architecture (4 layers, hidden 128, top-k 32).
 * - `small`: about 160M parameters: hidden 1024, 8 layers, 16 heads, 32 experts (4 active, 4 groups), indexer 8 × 64, top-k 256.
 * - `v32-dims`: DeepSeek-V3.2's per-layer sizes exactly, with 16 routed experts in 8 groups; `layers` defaults to 2.
 */
export function presetConfig(name: PresetName, layers?: number): HfConfig {
  switch (name) {
    case 'tiny':
      return {
        ...COMMON,
        vocab_size: 1024,
        hidden_size: 128,
        intermediate_size: 256,
        moe_intermediate_size: 32,
        num_hidden_layers: layers ?? 4,
        first_k_dense_replace: 1,
        num_attention_heads: 4,
        num_key_value_heads: 4,
        q_lora_rank: 64,
        kv_lora_rank: 32,
        qk_nope_head_dim: 16,
        qk_rope_head_dim: 8,
        v_head_dim: 16,
        n_routed_experts: 16,
        n_shared_experts: 1,
        num_experts_per_tok: 4,
        n_group: 4,
        topk_group: 2,
        routed_scaling_factor: 2.5,
        index_n_heads: 8,
        index_head_dim: 16,
        index_topk: 32,
        max_position_embeddings: 256,
        rope_theta: 10000,
        rope_scaling: {
          type: 'yarn',
          factor: 4,
          original_max_position_embeddings: 64,
          beta_fast: 32,
          beta_slow: 1,
          mscale: 1,
          mscale_all_dim: 1,
        },
      };
    case 'small':
      return {
        ...COMMON,
        vocab_size: 32000,
        hidden_size: 1024,
        intermediate_size: 2816,
        moe_intermediate_size: 96,
        num_hidden_layers: layers ?? 8,
        first_k_dense_replace: 1,
        num_attention_heads: 16,
        num_key_value_heads: 16,
        q_lora_rank: 384,
        kv_lora_rank: 128,
        qk_nope_head_dim: 64,
        qk_rope_head_dim: 32,
        v_head_dim: 64,
        n_routed_experts: 32,
        n_shared_experts: 1,
        num_experts_per_tok: 4,
        n_group: 4,
        topk_group: 2,
        routed_scaling_factor: 2.5,
        index_n_heads: 8,
        index_head_dim: 64,
        index_topk: 256,
        max_position_embeddings: 65536,
        rope_theta: 10000,
        rope_scaling: {
          type: 'yarn',
          factor: 16,
          original_max_position_embeddings: 4096,
          beta_fast: 32,
          beta_slow: 1,
          mscale: 1,
          mscale_all_dim: 1,
        },
      };
    case 'v32-dims':
      return {
        ...COMMON,
        vocab_size: 129280,
        hidden_size: 7168,
        intermediate_size: 18432,
        moe_intermediate_size: 2048,
        num_hidden_layers: layers ?? 2,
        first_k_dense_replace: 1,
        num_attention_heads: 128,
        num_key_value_heads: 128,
        q_lora_rank: 1536,
        kv_lora_rank: 512,
        qk_nope_head_dim: 128,
        qk_rope_head_dim: 64,
        v_head_dim: 128,
        n_routed_experts: 16,
        n_shared_experts: 1,
        num_experts_per_tok: 8,
        n_group: 8,
        topk_group: 4,
        routed_scaling_factor: 2.5,
        index_n_heads: 64,
        index_head_dim: 128,
        index_topk: 2048,
        max_position_embeddings: 163840,
        rope_theta: 10000,
        rope_scaling: {
          type: 'yarn',
          factor: 40,
          original_max_position_embeddings: 4096,
          beta_fast: 32,
          beta_slow: 1,
          mscale: 1,
          mscale_all_dim: 1,
        },
      };
  }
}

/** Every preset name. */
export const PRESET_NAMES: readonly PresetName[] = ['tiny', 'small', 'v32-dims'];
