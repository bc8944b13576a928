/**
 * Tensor names of llama.cpp's `deepseek2` / `deepseek32` architectures (gguf-py `TENSOR_NAMES`, loaded by
 * `src/models/deepseek32.cpp`) for each Hugging Face checkpoint tensor, per layer. Tensors that llama.cpp
 * stores differently from the checkpoint are handled by the exporter and importer themselves:
 * `kv_b_proj` is split into `attn_k_b` (transposed per head) and `attn_v_b`, and the routed experts are
 * stacked into one `[E, ...]` tensor per projection (`ffn_{gate,up,down}_exps`).
 */

/** Per-model tensors: checkpoint name → GGUF name. */
export const GLOBAL_TENSOR_NAMES: Readonly<Record<string, string>> = {
  'model.embed_tokens.weight': 'token_embd.weight',
  'model.norm.weight': 'output_norm.weight',
  'lm_head.weight': 'output.weight',
};

/** Per-layer tensors: checkpoint name after `model.layers.{i}.` → GGUF name after `blk.{i}.`. */
export const LAYER_TENSOR_NAMES: Readonly<Record<string, string>> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.q_a_proj.weight': 'attn_q_a.weight',
  'self_attn.q_a_layernorm.weight': 'attn_q_a_norm.weight',
  'self_attn.q_b_proj.weight': 'attn_q_b.weight',
  'self_attn.kv_a_proj_with_mqa.weight': 'attn_kv_a_mqa.weight',
  'self_attn.kv_a_layernorm.weight': 'attn_kv_a_norm.weight',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'self_attn.indexer.wq_b.weight': 'indexer.attn_q_b.weight',
  'self_attn.indexer.wk.weight': 'indexer.attn_k.weight',
  'self_attn.indexer.k_norm.weight': 'indexer.k_norm.weight',
  'self_attn.indexer.k_norm.bias': 'indexer.k_norm.bias',
  'self_attn.indexer.weights_proj.weight': 'indexer.proj.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
  'mlp.gate.weight': 'ffn_gate_inp.weight',
  'mlp.gate.e_score_correction_bias': 'exp_probs_b.bias',
  'mlp.shared_experts.gate_proj.weight': 'ffn_gate_shexp.weight',
  'mlp.shared_experts.up_proj.weight': 'ffn_up_shexp.weight',
  'mlp.shared_experts.down_proj.weight': 'ffn_down_shexp.weight',
};

/** The split halves of `self_attn.kv_b_proj.weight`. */
export const KV_B_PARTS = { k: 'attn_k_b.weight', v: 'attn_v_b.weight' } as const;

/** The stacked routed-expert tensors, by projection. */
export const EXPERT_TENSOR_NAMES = {
  gate_proj: 'ffn_gate_exps.weight',
  up_proj: 'ffn_up_exps.weight',
  down_proj: 'ffn_down_exps.weight',
} as const;

/** Projection names of one SwiGLU expert. */
export type ExpertProjection = keyof typeof EXPERT_TENSOR_NAMES;

/**
 * Tensors llama.cpp's converter always stores as F32 whatever the file type: every 1-D tensor, norms,
 * the router (`ffn_gate_inp`), the indexer's head weights (`indexer.proj`) and biases.
 */
export function ggufKeepsF32(ggufName: string, rank: number): boolean {
  return (
    rank <= 1 ||
    ggufName.endsWith('_norm.weight') ||
    ggufName.endsWith('.ffn_gate_inp.weight') ||
    ggufName.endsWith('.indexer.proj.weight') ||
    !ggufName.endsWith('.weight')
  );
}
