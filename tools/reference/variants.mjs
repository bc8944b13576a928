// Writes small random checkpoints whose architecture differs from the main fixtures in every
// dimension the engine must not special-case. tools/reference/hf_golden.py then computes their
// reference outputs with transformers (float64); tests/variants.test.ts compares against them.
// Usage: node tools/reference/variants.mjs fixtures/variants   (after `pnpm build`)
import path from 'node:path';
import { makeModel, PRESET_COMMON_CONFIG } from '../../packages/runtime/dist/index.js';

// The presets' common fields, less the one each variant sets in its own place (norm_topk_prob) and the one
// the variants leave out (use_cache): their config.json files stay as hf_golden.py read them.
const { norm_topk_prob: _normTopkProb, use_cache: _useCache, ...base } = PRESET_COMMON_CONFIG;

export const VARIANTS = {
  // odd head counts and ranks, rope_parameters form, YaRN with mscale != mscale_all_dim (attention factor != 1),
  // 3 groups of 4 experts keeping 2, two shared experts, theta 50000
  'wide-yarn': {
    ...base,
    vocab_size: 512,
    hidden_size: 96,
    intermediate_size: 160,
    moe_intermediate_size: 16,
    num_hidden_layers: 3,
    first_k_dense_replace: 1,
    num_attention_heads: 3,
    num_key_value_heads: 3,
    q_lora_rank: 48,
    kv_lora_rank: 24,
    qk_nope_head_dim: 8,
    qk_rope_head_dim: 4,
    v_head_dim: 12,
    n_routed_experts: 12,
    n_shared_experts: 2,
    num_experts_per_tok: 3,
    n_group: 3,
    topk_group: 2,
    routed_scaling_factor: 1.5,
    norm_topk_prob: true,
    index_n_heads: 16,
    index_head_dim: 8,
    index_topk: 8,
    max_position_embeddings: 128,
    rope_parameters: {
      rope_type: 'yarn',
      rope_theta: 50000,
      factor: 2,
      original_max_position_embeddings: 32,
      beta_fast: 32,
      beta_slow: 1,
      mscale: 1,
      // biome-ignore lint/suspicious/noApproximativeNumericConstant: the checkpoint value, not 1/√2
      mscale_all_dim: 0.707,
    },
  },
  // plain RoPE, a single expert group, no shared expert, unnormalized routing weights, two dense layers
  'plain-rope': {
    ...base,
    vocab_size: 300,
    hidden_size: 64,
    intermediate_size: 96,
    moe_intermediate_size: 24,
    num_hidden_layers: 3,
    first_k_dense_replace: 2,
    num_attention_heads: 2,
    num_key_value_heads: 2,
    q_lora_rank: 32,
    kv_lora_rank: 16,
    qk_nope_head_dim: 12,
    qk_rope_head_dim: 8,
    v_head_dim: 8,
    n_routed_experts: 8,
    n_shared_experts: 0,
    num_experts_per_tok: 2,
    n_group: 1,
    topk_group: 1,
    routed_scaling_factor: 1.0,
    norm_topk_prob: false,
    index_n_heads: 16,
    index_head_dim: 16,
    index_topk: 16,
    max_position_embeddings: 256,
    rope_theta: 10000,
  },
  // DeepSeek-V3 (no indexer: dense MLA), direct q projection (q_lora_rank null), published rope_scaling form
  'v3-dense': {
    ...base,
    architectures: ['DeepseekV3ForCausalLM'],
    model_type: 'deepseek_v3',
    vocab_size: 256,
    hidden_size: 64,
    intermediate_size: 128,
    moe_intermediate_size: 16,
    num_hidden_layers: 2,
    first_k_dense_replace: 1,
    num_attention_heads: 4,
    num_key_value_heads: 4,
    q_lora_rank: null,
    kv_lora_rank: 16,
    qk_nope_head_dim: 8,
    qk_rope_head_dim: 8,
    v_head_dim: 8,
    n_routed_experts: 8,
    n_shared_experts: 1,
    num_experts_per_tok: 2,
    n_group: 2,
    topk_group: 1,
    routed_scaling_factor: 2.5,
    norm_topk_prob: true,
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
  },
};

const out = process.argv[2] ?? 'fixtures/variants';
for (const [name, config] of Object.entries(VARIANTS)) {
  const { files, bytes } = await makeModel(path.join(out, name), config, {
    dtype: 'bf16',
    seed: name.length * 7919,
  });
  console.log(`${name}: ${files.join(', ')} (${bytes} bytes)`);
}
