"""The peer on the GPU machine: transformers' DeepseekV32ForCausalLM on one of our checkpoints.

Two jobs, both on the same checkpoint our CUDA backend runs (`dsa make-model --preset v32-dims`):

1. Cross-check logits: a fixed prompt (token ids from a seeded generator, written to the output so
   our side feeds the same ids) through the model in float32, logits of every position saved.
2. Peer speed: bf16 weights, sdpa attention, batch 1: prefill `--depth` tokens, then time greedy
   decode steps one by one (torch.cuda.synchronize around each), median/min/max in ms; then try a
   long prefill (`--long`) and report whether it ran out of memory.

Usage (GPU host): python3 tools/reference/hf_v32_peer.py MODEL_DIR --out $OUT/peer \
    [--depth 4096] [--steps 16] [--prompt 64] [--long 16384]
Writes OUT.json (timings, versions, memory) and OUT.safetensors (prompt ids and float32 logits).
"""
import argparse
import json
import statistics
import time

import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("--out", required=True)
parser.add_argument("--depth", type=int, default=4096)
parser.add_argument("--steps", type=int, default=16)
parser.add_argument("--prompt", type=int, default=64)
parser.add_argument("--long", type=int, default=16384)
parser.add_argument("--skip-crosscheck", action="store_true")
args = parser.parse_args()

device = torch.device("cuda")
report = {
    "peer": f"transformers {transformers.__version__} DeepseekV32ForCausalLM",
    "torch": torch.__version__,
    "gpu": torch.cuda.get_device_name(0),
    "model": args.model,
}
generator = torch.Generator().manual_seed(2026)


def load(dtype, attn):
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype, attn_implementation=attn)
    return model.to(device).eval()


if not args.skip_crosscheck:
    model = load(torch.float32, "eager")
    vocab = model.config.vocab_size
    ids = torch.randint(2, vocab, (args.prompt,), generator=generator)
    with torch.no_grad():
        logits = model(ids[None].to(device), use_cache=False).logits[0].float().cpu()
    save_file(
        {"prompt.input_ids": ids.to(torch.int32).contiguous(), "prompt.logits": logits.contiguous()},
        f"{args.out}.safetensors",
    )
    report["crosscheck"] = {"dtype": "float32", "attention": "eager", "prompt": args.prompt}
    del model
    torch.cuda.empty_cache()

model = load(torch.bfloat16, "sdpa")
vocab = model.config.vocab_size
prompt = torch.randint(2, vocab, (1, args.depth), generator=generator).to(device)
with torch.no_grad():
    torch.cuda.synchronize()
    start = time.perf_counter()
    out = model(prompt, use_cache=True)
    torch.cuda.synchronize()
    prefill_s = time.perf_counter() - start
    past = out.past_key_values
    token = out.logits[:, -1:].argmax(-1)
    times = []
    for _ in range(args.steps + 2):
        torch.cuda.synchronize()
        start = time.perf_counter()
        out = model(token, past_key_values=past, use_cache=True)
        token = out.logits[:, -1:].argmax(-1)
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
        past = out.past_key_values
    times = times[2:]  # warm-up
report["decode"] = {
    "dtype": "bfloat16",
    "attention": "sdpa",
    "batch": 1,
    "depth": args.depth,
    "prefill_tok_s": args.depth / prefill_s,
    "tg_ms_median": statistics.median(times),
    "tg_ms_min": min(times),
    "tg_ms_max": max(times),
    "tg_tok_s": 1e3 / statistics.median(times),
    "peak_memory_bytes": torch.cuda.max_memory_allocated(),
}
del past, out
torch.cuda.empty_cache()
torch.cuda.reset_peak_memory_stats()

if args.long > 0:
    long_prompt = torch.randint(2, vocab, (1, args.long), generator=generator).to(device)
    try:
        with torch.no_grad():
            torch.cuda.synchronize()
            start = time.perf_counter()
            model(long_prompt, use_cache=True, logits_to_keep=1)
            torch.cuda.synchronize()
        report["long_prefill"] = {
            "tokens": args.long,
            "ok": True,
            "seconds": time.perf_counter() - start,
            "peak_memory_bytes": torch.cuda.max_memory_allocated(),
        }
    except torch.OutOfMemoryError as error:
        report["long_prefill"] = {"tokens": args.long, "ok": False, "error": str(error).splitlines()[0]}

with open(f"{args.out}.json", "w") as f:
    json.dump(report, f, indent=2)
print(json.dumps(report))
