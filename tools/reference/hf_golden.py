"""Reference outputs for the variant checkpoints, from transformers (independent of our code).

For each folder given: load the checkpoint with transformers in float64 (eager attention), run a
random prompt of 40 tokens (longer than index_topk, so DSA is sparse), and a greedy decode of 4 steps
with the KV cache; write golden.safetensors and golden.json next to the checkpoint.

Usage: python3 tools/reference/hf_golden.py fixtures/variants/*
"""
import json
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

torch.manual_seed(0)
for folder in sys.argv[1:]:
    # float64 needs the eager attention and the eager (per-expert loop) MoE path of transformers 5.
    model = AutoModelForCausalLM.from_pretrained(
        folder, dtype=torch.float64, attn_implementation="eager", experts_implementation="eager"
    )
    model.eval()
    config = model.config
    generator = torch.Generator().manual_seed(1234)
    ids = torch.randint(2, config.vocab_size, (40,), generator=generator)
    with torch.no_grad():
        out = model(ids[None], output_hidden_states=True, use_cache=False)
        logits = out.logits[0].float()
        hidden = torch.stack([h[0] for h in out.hidden_states]).float()
        prompt = ids[:30]
        step_logits = []
        cache_out = model(prompt[None], use_cache=True)
        past = cache_out.past_key_values
        step_logits.append(cache_out.logits[0, -1].float())
        tokens = []
        for _ in range(4):
            token = int(step_logits[-1].argmax())
            tokens.append(token)
            cache_out = model(torch.tensor([[token]]), past_key_values=past, use_cache=True)
            past = cache_out.past_key_values
            step_logits.append(cache_out.logits[0, -1].float())
    save_file(
        {
            "prompt.input_ids": ids.to(torch.int32).contiguous(),
            "prompt.logits": logits.contiguous(),
            "prompt.hidden_states": hidden.contiguous(),
            "decode.prompt_ids": prompt.to(torch.int32).contiguous(),
            "decode.tokens": torch.tensor(tokens, dtype=torch.int32),
            "decode.step_logits": torch.stack(step_logits).contiguous(),
        },
        f"{folder}/golden.safetensors",
    )
    with open(f"{folder}/golden.json", "w") as f:
        json.dump(
            {
                "reference": f"transformers {transformers.__version__} {type(model).__name__}, eager, float64 on CPU",
                "prompt_len": 40,
                "decode": {"prefill": 30, "steps": 4, "greedy_tokens": tokens},
            },
            f,
            indent=2,
        )
    print(folder, type(model).__name__, "greedy", tokens, "logits absmax", float(logits.abs().max()))
