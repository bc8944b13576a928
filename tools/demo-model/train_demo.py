#!/usr/bin/env python3
"""Trains `dsa-demo` (shared/docs/demo-model.md §3-§5) inside a wall-clock budget, evaluates it, exports it.

  python3 -u tools/demo-model/train_demo.py --data .demo/data --run-dir /tmp/demo-run --device cuda --budget-s 900
  /usr/bin/python3 tools/demo-model/train_demo.py --make-toy-data /tmp/toy-data          # a synthetic data dir
  /usr/bin/python3 tools/demo-model/train_demo.py --data /tmp/toy-data --run-dir /tmp/toy-run --toy   # CPU test

Phases (each time-boxed to its share of what is left after the self-tests, minus --reserve-s for eval/export;
dsa_train/recipe.py fits the step count from the measured step time, so WSD decays run to their end):
  A   dense LM pretraining, plain RoPE at --seq (1024), batch 64, lr 2e-3 (XS 3e-3), chat rows at 15% from 75% of A
  A2  YaRN x2 extension at --seq-long (2048), batch 32, lr 2e-4 constant
  B   indexer warm-up (main frozen, KL to the dense attention), batch 16, indexer lr 1e-3
  C   sparse top-k training: main lr 1e-4, indexer 3e-4, batch 16, chat rows at 20%
Then eval.json (held-out perplexity per selection mode at both lengths, indexer recall per layer, fp8 vs bf16,
the untrained-indexer ablation, greedy samples) and the export: run-dir/export-fp8 and export-bf16, hub layout
in <= --max-shard-mib shards, config.json (rope_scaling + rope_parameters), generation_config.json, the
tokenizer files and trainer goldens (golden.safetensors: a held-out text prompt; golden-chat.safetensors: a
held-out chat prompt) on the exported weights. Resumable: rerun the same command.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import shutil
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
from dsa_train.data import heldout_windows, mixed_batches, open_split  # noqa: E402
from dsa_train.evaluate import evaluate_context, greedy, perplexity  # noqa: E402
from dsa_train.export import export_checkpoint, rounded_state, write_json, write_safetensors  # noqa: E402
from dsa_train.golden import golden  # noqa: E402
from dsa_train.model import DeepseekV32  # noqa: E402
from dsa_train.recipe import Phase, Trainer  # noqa: E402
from dsa_train.selftest import check_fused_attention, check_phase_steps, check_rope_switch  # noqa: E402
from dsa_train.shapes import SHAPES, YARN_2X  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chat_format import ASSISTANT, BOS, THINK_END, USER  # noqa: E402
from dsa_train.toydata import make_toy_data  # noqa: E402

CHAT_PROMPTS = [
    "What is SQLite?",
    "What is the capital of France?",
    "What does a hacker do?",
    "Explain what a Python list is.",
    "Give a short definition of democracy.",
]
TEXT_PROMPTS = [
    "The President said that",
    "SQLite is a",
    "In computing, a",
    "The population of the country",
    "Python is a programming language that",
]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def chat_format(question: str) -> str:
    """A one-question chat prompt, up to where the answer starts (chat_format.py renders training conversations)."""
    return f"{BOS}{USER}{question}{ASSISTANT}{THINK_END}"


def load_tokenizer(data_dir: str):
    """The data dir's tokenizer through the `tokenizers` library, or None where it is not installed."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        return None
    return Tokenizer.from_file(os.path.join(data_dir, "tokenizer.json"))


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--make-toy-data", metavar="DIR", help="write a synthetic data dir and exit")
    ap.add_argument("--data", default=".demo/data")
    ap.add_argument("--run-dir", default="/tmp/demo-run")
    ap.add_argument("--shape", default="demo-s", choices=sorted(SHAPES))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget-s", type=float, default=900, help="wall time of the whole run, export included")
    ap.add_argument("--reserve-s", type=float, default=110, help="kept for evaluation and export")
    ap.add_argument("--fractions", default="A=0.58,A2=0.07,B=0.07,C=0.20", help="relative phase budgets")
    ap.add_argument("--max-steps", type=int, default=1_000_000, help="upper bound of every phase's steps")
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--seq-long", type=int, default=2048)
    ap.add_argument("--batches", default="A=64,A2=32,B=16,C=16")
    ap.add_argument("--lr", type=float, help="phase A peak (default 2e-3; demo-xs 3e-3)")
    ap.add_argument("--warmup-a", type=int, default=150)
    ap.add_argument("--eval-every", type=int, default=100, help="held-out loss every N steps")
    ap.add_argument("--eval-windows", type=int, default=16, help="held-out windows per context length in eval.json")
    ap.add_argument("--sample-tokens", type=int, default=100)
    ap.add_argument("--max-shard-mib", type=float, default=15)
    ap.add_argument("--skip-selftest", action="store_true")
    ap.add_argument("--amp", default="auto", choices=["auto", "on", "off"], help="bf16 autocast (auto: on with CUDA)")
    ap.add_argument("--toy", action="store_true", help="CPU test settings: demo-toy shape, seq 128/256, small batches")
    args = ap.parse_args()
    if args.toy:
        args.shape, args.seq, args.seq_long, args.batches = "demo-toy", 128, 256, "A=4,A2=2,B=2,C=2"
        args.warmup_a, args.eval_windows, args.sample_tokens = 5, 4, 8
    return args


def main() -> None:
    args = parse_args()
    if args.make_toy_data:
        make_toy_data(args.make_toy_data)
        print(json.dumps({"toy_data": args.make_toy_data}))
        return
    started = time.time()
    deadline = started + args.budget_s
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.run_dir, exist_ok=True)
    log_path = os.path.join(args.run_dir, "log.jsonl")
    amp = args.amp == "on" or (args.amp == "auto" and args.device.startswith("cuda"))

    def log(record: dict) -> None:
        record["t"] = round(time.time() - started, 1)
        line = json.dumps(record)
        print(line, flush=True)
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    meta = json.load(open(os.path.join(args.data, "meta.json"), encoding="utf-8"))
    shape = SHAPES[args.shape]
    if meta["vocab_size"] > shape.vocab_size:
        raise SystemExit(f"data vocab {meta['vocab_size']} > model vocab {shape.vocab_size}")
    yarn = {**YARN_2X, "factor": args.seq_long / args.seq, "original_max_position_embeddings": args.seq}
    shape = dataclasses.replace(shape, max_position_embeddings=args.seq_long)
    model = DeepseekV32(shape).to(args.device)
    initial_indexer = {k: v.detach().clone() for k, v in model.state_dict().items() if ".indexer." in k}
    log({"start": args.shape, "params": sum(p.numel() for p in model.parameters()), "device": args.device,
         "torch": torch.__version__, "budget_s": args.budget_s, "yarn": yarn})

    text, chat = open_split(args.data, "train")
    held_text, held_chat = open_split(args.data, "heldout")
    batch = {k: int(v) for k, v in (item.split("=") for item in args.batches.split(","))}
    lr_a = args.lr or (3e-3 if args.shape == "demo-xs" else 2e-3)
    cap = args.max_steps
    phases = [
        Phase("A", "A", cap, lr_a, mixed_batches(text, chat, batch["A"], args.seq, 0.15, 0.75), warmup=args.warmup_a),
        Phase("A2", "A", cap, 2e-4, mixed_batches(text, chat, batch["A2"], args.seq_long, 0.15), warmup=10, decay_from=1.0),
        Phase("B", "B", cap, 0.0, mixed_batches(text, chat, batch["B"], args.seq_long), indexer_lr=1e-3, warmup=20,
              decay_from=1.0, weight_decay=0.0),
        Phase("C", "C", cap, 1e-4, mixed_batches(text, chat, batch["C"], args.seq_long, 0.20), indexer_lr=3e-4, warmup=10,
              decay_from=0.5),
    ]

    def prepare(m: DeepseekV32, phase: Phase) -> None:
        m.set_rope_scaling(None if phase.name == "A" else yarn)

    if not args.skip_selftest:
        result = {"selftest": "ok", **check_fused_attention(model), **check_rope_switch(model, yarn)}
        result["steps"] = check_phase_steps(model, phases, amp, prepare)
        if amp:
            torch.cuda.empty_cache()
        log(result)

    torch.backends.cuda.matmul.allow_tf32 = True  # after the f32 self-tests (their tolerances assume full f32)
    torch.backends.cudnn.allow_tf32 = True
    held = {n: heldout_windows(held_text, 4, n) for n in (args.seq, args.seq_long)}

    def heldout_loss(length: int):
        return lambda: {"heldout_ppl": perplexity(model, *held[length], from_pos=0, amp=amp)}

    trainer = Trainer(model, args.run_dir, args.seed, log, amp=amp)
    shares = dict((k, float(v)) for k, v in (item.split("=") for item in args.fractions.split(",")))
    for i, phase in enumerate(phases):
        prepare(model, phase)
        left = deadline - time.time() - args.reserve_s
        phase.budget_s = max(1.0, left * shares[phase.name] / sum(shares[p.name] for p in phases[i:]))
        if phase.name not in trainer.done:
            log({"phase_start": phase.name, "budget_s": round(phase.budget_s, 1)})
        length = args.seq if phase.name == "A" else args.seq_long
        trainer.run(phase, heldout_loss(length), eval_every=args.eval_every)
    log({"trained_s": round(time.time() - started, 1)})

    model.eval()
    export(model, args, held_chat, held_text)
    evaluate(model, args, amp, initial_indexer, held_text, log)
    log({"done_s": round(time.time() - started, 1)})


def export(model: DeepseekV32, args: argparse.Namespace, held_chat, held_text) -> None:
    """run-dir/export-fp8 and export-bf16, each with goldens on its own rounded weights."""
    cpu = copy.deepcopy(model).float().cpu()
    state = cpu.state_dict()
    text_ids = torch.from_numpy(held_text.window(0, 96)[0])[None]  # [1, 96]: a held-out document's start
    prompts = {"golden.safetensors": text_ids}
    if held_chat is not None:
        starts = held_chat.starts()
        mask = np.asarray(held_chat.mask[starts[0] : starts[0] + 512])
        first_answer = int(np.flatnonzero(mask)[0]) if mask.any() else 32
        prompts["golden-chat.safetensors"] = torch.from_numpy(held_chat.window(int(starts[0]), first_answer)[0])[None]
    for dtype in ("fp8", "bf16"):
        out = os.path.join(args.run_dir, f"export-{dtype}")
        files = export_checkpoint(cpu, cpu.args, out, dtype, max_shard_bytes=int(args.max_shard_mib * 2**20))
        for name in TOKENIZER_FILES:
            shutil.copy(os.path.join(args.data, name), out)
        rounded = copy.deepcopy(cpu)
        rounded.load_state_dict(rounded_state(state, dtype))
        for name, ids in prompts.items():
            write_safetensors(os.path.join(out, name), golden(rounded, ids), {"producer": "tools/demo-model/train_demo.py"})
        print(json.dumps({"exported": out, "shards": files}), flush=True)


def evaluate(model: DeepseekV32, args, amp: bool, initial_indexer: dict, held_text, log) -> None:
    """eval.json (written after every section, so a timeout keeps what was measured)."""
    path = os.path.join(args.run_dir, "eval.json")
    report: dict = {"shape": args.shape, "index_topk": model.args.index_topk}
    k = model.args.index_topk
    t0 = time.time()
    for length in (args.seq, args.seq_long):
        ids, labels = heldout_windows(held_text, args.eval_windows, length)
        extra = tuple(kk for kk in (32, 128) if kk < length) if length == args.seq_long else ()
        report[f"context_{length}"] = evaluate_context(model, ids, labels, k, extra, chunk=4, amp=amp, seed=args.seed)
        write_json(path, report)
        log({"eval": f"context_{length}", "ppl": report[f"context_{length}"]["ppl"], "s": round(time.time() - t0, 1)})
    ids, labels = heldout_windows(held_text, args.eval_windows, args.seq_long)
    state = {k2: v.detach().cpu().clone() for k2, v in model.state_dict().items()}  # rounded_state works on CPU
    variants = {}
    for name, weights in (
        ("bf16", rounded_state(state, "bf16")),
        ("fp8", rounded_state(state, "fp8")),
        ("untrained_indexer", {**state, **initial_indexer}),
    ):
        model.load_state_dict({k2: v.to(state[k2].dtype) for k2, v in weights.items()})  # copied to the device
        variants[name] = {mode: perplexity(model, ids, labels, k, mode, amp=amp) for mode in ("dense", "sparse")}
    model.load_state_dict(state)
    report["weights"] = variants
    write_json(path, report)
    log({"eval": "weights", **variants, "s": round(time.time() - t0, 1)})

    tokenizer = load_tokenizer(args.data)
    samples = []
    if tokenizer is not None:
        prompts = [(q, tokenizer.encode(chat_format(q), add_special_tokens=False).ids) for q in CHAT_PROMPTS]
        prompts += [(p, [0, *tokenizer.encode(p, add_special_tokens=False).ids]) for p in TEXT_PROMPTS]
    else:  # no tokenizers library (the CPU test): held-out document openings
        prompts = [(f"heldout@{i * 997}", held_text.window(i * 997, 16)[0].tolist()) for i in range(2)]
    for prompt, ids_ in prompts:
        out = greedy(model, ids_, args.sample_tokens, stop=model.args.eos_token_id, amp=amp)
        samples.append({"prompt": prompt, "ids": out, "text": tokenizer.decode(out) if tokenizer else None})
    report["samples"] = samples
    report["eval_s"] = round(time.time() - t0, 1)
    write_json(path, report)
    log({"eval": "samples", "n": len(samples), "s": round(time.time() - t0, 1)})


if __name__ == "__main__":
    main()
