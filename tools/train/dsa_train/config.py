"""ModelArgs: the config.json fields of a deepseek_v32 model that the trainer uses (names are the checkpoint's)."""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Optional


@dataclasses.dataclass
class ModelArgs:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    q_lora_rank: int
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int
    # MoE (layers >= first_k_dense_replace)
    first_k_dense_replace: int = 1
    n_routed_experts: int = 8
    n_shared_experts: int = 1
    num_experts_per_tok: int = 2
    n_group: int = 4
    topk_group: int = 2
    moe_intermediate_size: int = 128
    routed_scaling_factor: float = 1.0
    norm_topk_prob: bool = True
    scoring_func: str = "sigmoid"
    # lightning indexer
    index_n_heads: int = 4
    index_head_dim: int = 64
    index_topk: int = 32
    # positions
    max_position_embeddings: int = 4096
    rope_theta: float = 10000.0
    rope_scaling: Optional[dict] = None  # None: plain RoPE; else the YaRN dict of config.json
    rms_norm_eps: float = 1e-6
    bos_token_id: int = 0
    eos_token_id: int = 1
    pad_token_id: Optional[int] = None

    def hf_config(self) -> dict[str, Any]:
        """The config.json of the exported checkpoint (transformers' DeepseekV32Config keys)."""
        c = dataclasses.asdict(self)
        c.update(
            architectures=["DeepseekV32ForCausalLM"],
            model_type="deepseek_v32",
            num_key_value_heads=self.num_attention_heads,
            head_dim=self.qk_rope_head_dim,
            qk_head_dim=self.qk_nope_head_dim + self.qk_rope_head_dim,
            hidden_act="silu",
            attention_bias=False,
            topk_method="noaux_tc",
            tie_word_embeddings=False,
            num_nextn_predict_layers=0,
            torch_dtype="bfloat16",
            use_cache=True,
        )
        # Both spellings of RoPE: the published `rope_theta` + `rope_scaling` {type, ...} and transformers 5's
        # `rope_parameters` {rope_type, rope_theta, ...} (the engine reads the latter first; they agree).
        if self.rope_scaling is None:
            c.pop("rope_scaling")
            c["rope_parameters"] = {"rope_type": "default", "rope_theta": self.rope_theta}
        else:
            kind = self.rope_scaling.get("rope_type", self.rope_scaling.get("type"))
            c["rope_scaling"] = {**self.rope_scaling, "type": kind, "rope_type": kind}
            params = {k: v for k, v in self.rope_scaling.items() if k != "type"}
            c["rope_parameters"] = {**params, "rope_type": kind, "rope_theta": self.rope_theta}
        c["routed_scaling_factor"] = float(self.routed_scaling_factor)
        return c

    @staticmethod
    def from_hf(config: dict[str, Any]) -> "ModelArgs":
        names = {f.name for f in dataclasses.fields(ModelArgs)}
        return ModelArgs(**{k: v for k, v in config.items() if k in names})

    def to_json(self) -> str:
        return json.dumps(self.hf_config(), indent=2, sort_keys=True)
