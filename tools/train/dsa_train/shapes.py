"""Model shapes of the demo model (shared/docs/demo-model.md §3.2) and its YaRN context extension.

DEMO_S is `dsa-demo-s` (31.4 M parameters), DEMO_XS the fallback `dsa-demo-xs` (13.1 M), DEMO_TOY a shape with
the same structure (MoE groups, indexer head 128, k=64) small enough for a CPU test run in seconds.
Every shape starts with plain RoPE (phase A at 1024); `YARN_2X` is the rope_scaling switched on from phase A2.
"""
from __future__ import annotations

import dataclasses

from .config import ModelArgs

# config.json `rope_scaling` of the extended model: 1024 → 2048 positions (both key spellings, see config.py)
YARN_2X = {
    "type": "yarn",
    "rope_type": "yarn",
    "factor": 2.0,
    "original_max_position_embeddings": 1024,
    "beta_fast": 32,
    "beta_slow": 1,
    "mscale": 1.0,
    "mscale_all_dim": 1.0,
}

DEMO_S = ModelArgs(
    vocab_size=8192, hidden_size=384, intermediate_size=1152, num_hidden_layers=8, num_attention_heads=6,
    q_lora_rank=192, kv_lora_rank=128, qk_nope_head_dim=64, qk_rope_head_dim=32, v_head_dim=64,
    first_k_dense_replace=1, n_routed_experts=8, n_shared_experts=1, num_experts_per_tok=2, n_group=4, topk_group=2,
    moe_intermediate_size=256, index_n_heads=4, index_head_dim=128, index_topk=64, max_position_embeddings=2048,
)
DEMO_XS = dataclasses.replace(
    DEMO_S, hidden_size=256, num_hidden_layers=6, num_attention_heads=4, q_lora_rank=128, kv_lora_rank=96,
    qk_nope_head_dim=48, qk_rope_head_dim=16, v_head_dim=48, moe_intermediate_size=192, intermediate_size=768,
)
DEMO_TOY = dataclasses.replace(
    DEMO_S, vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
    q_lora_rank=32, kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, moe_intermediate_size=32,
)
SHAPES = {"demo-s": DEMO_S, "demo-xs": DEMO_XS, "demo-toy": DEMO_TOY}
