#!/usr/bin/env python3
"""Writes a GGUF of a dsa checkpoint folder with llama.cpp's own gguf-py: its GGUFWriter (layout, alignment,
padding) and its tensor name map for deepseek32 / deepseek2, following convert_hf_to_gguf.py's DeepseekV2Model /
DeepseekV32Model (kv_b split into k_b transposed and v_b, experts stacked, norms and router F32, metadata keys).
An independent writer to check that `dsa` loads what llama.cpp's converter layout implies:

  python3 tools/peers/gguf-py-export.py GGUF_PY_DIR MODEL_DIR TOKENIZER_DIR OUT.gguf
  pnpm dsa generate --model OUT.gguf --ids 1,2,3 --max-tokens 8 --json     # = on MODEL_DIR

GGUF_PY_DIR: llama.cpp's gguf-py (node-llama-cpp bundles llama.cpp: `git clone
tools/peers/llama-cpp/node_modules/node-llama-cpp/llama/gitRelease.bundle llama.cpp`). Needs numpy only;
weights are written as F32 (bf16/fp8 widened exactly; fp8 times its block scale).
"""
import json
import struct
import sys

import numpy as np

sys.path.insert(0, sys.argv[1])
import gguf  # noqa: E402

model_dir, tokenizer_dir, out = sys.argv[2], sys.argv[3], sys.argv[4]
hp = json.load(open(f"{model_dir}/config.json"))


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = data[a:b]
        dtype = info["dtype"]
        if dtype == "BF16":
            v = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif dtype == "F32":
            v = np.frombuffer(raw, np.float32)
        elif dtype == "F8_E4M3":
            q = np.frombuffer(raw, np.uint8)
            table = np.array([fp8(i) for i in range(256)], np.float32)
            v = table[q]
        else:
            raise ValueError(f"{name}: {dtype}")
        tensors[name] = v.reshape(info["shape"]).astype(np.float32)
    return tensors


def fp8(bits):
    s = -1.0 if bits & 0x80 else 1.0
    e = (bits >> 3) & 0xF
    m = bits & 7
    if e == 0:
        return s * m * 2.0**-9
    if e == 15 and m == 7:
        return float("nan")
    return s * (1 + m / 8) * 2.0 ** (e - 7)


t = read_safetensors(f"{model_dir}/model.safetensors")
block = (hp.get("quantization_config") or {}).get("weight_block_size", [128, 128])
for name in [n for n in t if n.endswith(".weight_scale_inv")]:
    w = name[: -len("_scale_inv")]
    s = np.repeat(np.repeat(t.pop(name), block[0], 0), block[1], 1)
    t[w] = t[w] * s[: t[w].shape[0], : t[w].shape[1]]

arch = gguf.MODEL_ARCH.DEEPSEEK32 if "index_topk" in hp else gguf.MODEL_ARCH.DEEPSEEK2
n_layers = hp["num_hidden_layers"]
w = gguf.GGUFWriter(out, gguf.MODEL_ARCH_NAMES[arch])
names = gguf.get_tensor_name_map(arch, n_layers)
# TextModel.set_gguf_parameters
w.add_block_count(n_layers)
w.add_context_length(hp["max_position_embeddings"])
w.add_embedding_length(hp["hidden_size"])
w.add_feed_forward_length(hp["intermediate_size"])
w.add_head_count(hp["num_attention_heads"])
w.add_head_count_kv(1)
rope = hp.get("rope_scaling") or hp.get("rope_parameters") or {}
if (rope.get("type") or rope.get("rope_type")) == "yarn":
    w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
    w.add_rope_scaling_factor(rope["factor"])
    w.add_rope_scaling_orig_ctx_len(rope["original_max_position_embeddings"])
    w.add_rope_scaling_yarn_beta_fast(rope["beta_fast"])
    w.add_rope_scaling_yarn_beta_slow(rope["beta_slow"])
w.add_rope_freq_base(rope.get("rope_theta", hp.get("rope_theta", 10000.0)))
w.add_layer_norm_rms_eps(hp["rms_norm_eps"])
w.add_expert_count(hp["n_routed_experts"])
w.add_expert_used_count(hp["num_experts_per_tok"])
w.add_expert_group_count(hp["n_group"])
w.add_expert_group_used_count(hp["topk_group"])
w.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID if hp.get("scoring_func", "sigmoid") == "sigmoid" else gguf.ExpertGatingFuncType.SOFTMAX)
w.add_file_type(gguf.LlamaFileType.ALL_F32)
# DeepseekV2Model.set_gguf_parameters
w.add_leading_dense_block_count(hp["first_k_dense_replace"])
w.add_vocab_size(hp["vocab_size"])
w.add_q_lora_rank(hp["q_lora_rank"])
w.add_kv_lora_rank(hp["kv_lora_rank"])
w.add_key_length(hp["kv_lora_rank"] + hp["qk_rope_head_dim"])
w.add_value_length(hp["kv_lora_rank"])
w.add_key_length_mla(hp["qk_nope_head_dim"] + hp["qk_rope_head_dim"])
w.add_value_length_mla(hp["v_head_dim"])
w.add_expert_feed_forward_length(hp["moe_intermediate_size"])
w.add_expert_shared_count(hp["n_shared_experts"])
w.add_expert_weights_scale(hp["routed_scaling_factor"])
if hp.get("norm_topk_prob"):
    w.add_expert_weights_norm(True)
w.add_rope_dimension_count(hp["qk_rope_head_dim"])
if rope.get("mscale_all_dim") is not None:
    w.add_rope_scaling_yarn_log_mul(0.1 * rope["mscale_all_dim"])
if arch == gguf.MODEL_ARCH.DEEPSEEK32:
    w.add_indexer_head_count(hp["index_n_heads"])
    w.add_indexer_key_length(hp["index_head_dim"])
    w.add_indexer_top_k(hp["index_topk"])
# _set_vocab_gpt2 (tokens by id, [PAD{i}] fillers, added tokens CONTROL / USER_DEFINED) + SpecialVocab
tok = json.load(open(f"{tokenizer_dir}/tokenizer.json"))
cfg = json.load(open(f"{tokenizer_dir}/tokenizer_config.json"))
vocab = hp["vocab_size"]
tokens = [f"[PAD{i}]" for i in range(vocab)]
types = [gguf.TokenType.UNUSED] * vocab
for text, i in tok["model"]["vocab"].items():
    tokens[i], types[i] = text, gguf.TokenType.NORMAL
for a in tok["added_tokens"]:
    special = a["special"] or (a["content"].startswith("<｜") and a["content"].endswith("｜>"))
    tokens[a["id"]] = a["content"]
    types[a["id"]] = gguf.TokenType.CONTROL if special else gguf.TokenType.USER_DEFINED
w.add_tokenizer_model("gpt2")
w.add_tokenizer_pre("deepseek-v3")
w.add_token_list(tokens)
w.add_token_types(types)
w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]])
w.add_bos_token_id(tokens.index(cfg["bos_token"]))
w.add_eos_token_id(tokens.index(cfg["eos_token"]))
w.add_add_bos_token(bool(cfg.get("add_bos_token")))

# modify_tensors: kv_b split, experts stacked, names from gguf-py's map
heads, dn, dv = hp["num_attention_heads"], hp["qk_nope_head_dim"], hp["v_head_dim"]
for i in range(n_layers):
    kv = t.pop(f"model.layers.{i}.self_attn.kv_b_proj.weight").reshape(heads, dn + dv, -1)
    t[f"model.layers.{i}.self_attn.k_b_proj.weight"] = np.ascontiguousarray(kv[:, :dn, :].transpose(0, 2, 1))
    t[f"model.layers.{i}.self_attn.v_b_proj.weight"] = np.ascontiguousarray(kv[:, dn:, :])
    for p in ["gate_proj", "up_proj", "down_proj"]:
        experts = [t.pop(f"model.layers.{i}.mlp.experts.{e}.{p}.weight") for e in range(hp["n_routed_experts"]) if f"model.layers.{i}.mlp.experts.{e}.{p}.weight" in t]
        if experts:
            t[f"model.layers.{i}.mlp.experts.{p}.weight"] = np.stack(experts)
for name, value in t.items():
    if name.endswith("e_score_correction_bias"):
        name = name.replace("e_score_correction_bias", "e_score_correction.bias")
    new = names.get_name(name, try_suffixes=(".weight", ".bias"))
    if new is None:
        raise ValueError(f"no GGUF name for {name}")
    w.add_tensor(new, np.ascontiguousarray(value, dtype=np.float32))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print(f"wrote {out}: {len(t)} tensors")
