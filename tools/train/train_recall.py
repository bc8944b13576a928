#!/usr/bin/env python3
"""Trains the needle-recall DSA model of fixtures/recall (the task is defined in fixtures/recall/README.md).

  /usr/bin/python3 tools/train/train_recall.py --run-dir runs/recall --out fixtures/recall [--threads 2]

Curriculum over L (short first: the two-layer retrieval circuit forms at L=32 and transfers), then the paper's
phases B (indexer warm-up, dense) and C (sparse training at index_topk) at the longest length. Resumable: rerun the
same command after an interruption. Logs JSON lines to run-dir/log.jsonl.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dsa_train.config import ModelArgs  # noqa: E402
from dsa_train.export import export_checkpoint, rounded_state, write_safetensors  # noqa: E402
from dsa_train.golden import golden  # noqa: E402
from dsa_train.losses import selection_recall  # noqa: E402
from dsa_train.model import AttentionControl, DeepseekV32  # noqa: E402
from dsa_train.recall import VOCAB, make_batch, make_sequence, write_tokenizer  # noqa: E402
from dsa_train.recipe import Phase, Trainer, answer_accuracy  # noqa: E402

RECALL_ARGS = ModelArgs(
    vocab_size=VOCAB,
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=2,
    num_attention_heads=8,
    q_lora_rank=64,
    kv_lora_rank=64,
    qk_nope_head_dim=32,
    qk_rope_head_dim=32,
    v_head_dim=32,
    first_k_dense_replace=1,
    n_routed_experts=8,
    n_shared_experts=1,
    num_experts_per_tok=2,
    n_group=4,
    topk_group=2,
    moe_intermediate_size=64,
    routed_scaling_factor=1.0,
    index_n_heads=4,
    index_head_dim=64,
    index_topk=32,
    max_position_embeddings=8192,
    rope_theta=10000.0,
)


def batches(batch: int, length: int, pairs: tuple[int, int], queries, key_pool: int = 128):
    return lambda rng, progress: make_batch(rng, batch, length, pairs, queries, key_pool)


# One row per phase: name, kind, steps, peak lr, batch, L, (P min, P max), Q (None: Q = P), warmup, indexer lr.
PLAN_CPU = [
    ("A1-L32", "A", 2200, 1e-3, 64, 32, (4, 4), None, 50, None),
    ("A2-L64", "A", 500, 1e-3, 32, 64, (4, 12), None, 20, None),
    ("A3-L128", "A", 250, 1e-3, 16, 128, (4, 16), None, 20, None),
    ("A4-L256", "A", 200, 1e-3, 16, 256, (4, 16), 4, 20, None),
    ("A5-L512", "A", 200, 5e-4, 8, 512, (4, 16), 4, 20, None),
    ("B-L512", "B", 200, 0.0, 8, 512, (4, 16), 4, 20, 1e-3),
    ("C-L512", "C", 300, 1e-4, 8, 512, (4, 16), 4, 20, 3e-4),
]
# The same recipe with the step counts a GPU affords (about 5 minutes on one H200 at this size).
PLAN_GPU = [
    ("A1-L64", "A", 5000, 1e-3, 128, 64, (4, 16), None, 100, None),
    ("A2-L128", "A", 1200, 1e-3, 64, 128, (4, 16), None, 20, None),
    ("A3-L256", "A", 800, 1e-3, 32, 256, (4, 16), None, 20, None),
    ("A4-L512", "A", 800, 5e-4, 32, 512, (4, 16), 4, 20, None),
    ("B-L512", "B", 400, 0.0, 32, 512, (4, 16), 4, 20, 1e-3),
    ("C-L512", "C", 600, 1e-4, 32, 512, (4, 16), 4, 20, 3e-4),
]


def plan(scale: float, rows: list[tuple] = PLAN_CPU) -> list[Phase]:
    """The phases of a plan table; `scale` multiplies step counts (the CI smoke test runs a tiny fraction)."""
    phases = []
    for name, kind, steps, lr, batch, length, pairs, queries, warmup, indexer_lr in rows:
        extra = {} if indexer_lr is None else {"indexer_lr": indexer_lr}
        if kind == "B":
            extra["decay_from"] = 1.0  # constant lr after warm-up
        phases.append(
            Phase(name, kind, max(2, int(steps * scale)), lr, batches(batch, length, pairs, queries), warmup=warmup, **extra)
        )
    return phases


def held_out(length: int, seed: int, n: int = 64):
    rng = np.random.default_rng([seed, length, 7])
    return make_batch(rng, n, length, (12, 12), 4)


def evaluator(model: DeepseekV32, length: int, seed: int):
    ids, labels = held_out(length, seed)
    device = next(model.parameters()).device
    ids, labels = ids.to(device), labels.to(device)

    rows = labels != -100  # the answer rows (position - 1)

    def run() -> dict:
        with torch.no_grad():
            out = {}
            for mode in ("dense", "sparse"):
                control = AttentionControl(mode=mode, measure_selection=True, record_probs=True)
                logits = model(ids, control)
                out[mode] = round(answer_accuracy(logits, labels), 4)
                if mode == "dense" and length > RECALL_ARGS.index_topk:
                    # share of the dense attention mass (head-summed, L1-normalised) on the indexer's top-k
                    out["indexer_recall"] = round(float(selection_recall(control)[:, rows].mean()), 4)
        return out

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--out", help="export the trained model here (config.json, model.safetensors)")
    ap.add_argument("--dtype", default="bf16", choices=["f32", "bf16", "fp8"])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (the same recipe runs unchanged on a GPU)")
    ap.add_argument("--gpu-plan", action="store_true", help="the longer plan a GPU affords (PLAN_GPU)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every phase's step count")
    ap.add_argument("--only", help="run phases up to and including this one")
    ap.add_argument("--export-from", help="skip training: export the model of this checkpoint.pt to --out")
    ap.add_argument("--wide", action="store_true", help="experiment: kv_lora 128, q_lora 128, nope 64")
    ap.add_argument("--dense-pairs", action="store_true", help="experiment: phase A1 at L=64 with P=8..16, Q=P")
    ap.add_argument("--aux-prev", type=float, default=0.0, help="weight of the previous-token auxiliary loss in A")
    ap.add_argument("--key-curriculum", action="store_true", help="experiment: A0 phases with 8, then 32 distinct keys")
    ap.add_argument("--lr-scale", type=float, default=1.0, help="multiply the main learning rate of phase A")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.run_dir, exist_ok=True)
    log_path = os.path.join(args.run_dir, "log.jsonl")

    def log(record: dict) -> None:
        record["time"] = round(time.time(), 1)
        line = json.dumps(record)
        print(line, flush=True)
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    if args.wide:
        import dataclasses

        globals()["RECALL_ARGS"] = dataclasses.replace(RECALL_ARGS, kv_lora_rank=128, q_lora_rank=128, qk_nope_head_dim=64)
    model = DeepseekV32(RECALL_ARGS)
    if args.export_from:
        model.load_state_dict(torch.load(args.export_from, map_location="cpu")["model"])
    model.to(args.device)
    trainer = Trainer(model, args.run_dir, args.seed, log)
    phases = plan(args.scale, PLAN_GPU if args.gpu_plan else PLAN_CPU)
    if args.dense_pairs:
        phases[0] = Phase("A1-L64", "A", 3000, 1e-3, batches(32, 64, (8, 16), None), warmup=50)
    if args.key_curriculum:
        phases[:0] = [
            Phase("A0a-L32", "A", 600, 1e-3, batches(64, 32, (4, 4), None, key_pool=8), warmup=50),
            Phase("A0b-L32", "A", 600, 1e-3, batches(64, 32, (4, 8), None, key_pool=32), warmup=20),
        ]
    for phase in phases:
        if phase.kind == "A":
            phase.aux_prev_token = args.aux_prev
    for phase in [] if args.export_from else phases:
        if phase.kind == "A":
            phase.lr *= args.lr_scale
        length = int(phase.name.split("-L")[1])
        trainer.run(phase, evaluator(model, length, args.seed), eval_every=100)
        if args.only and phase.name == args.only:
            break
    if args.out:
        model.to("cpu")
        export_checkpoint(model, RECALL_ARGS, args.out, args.dtype)
        write_tokenizer(args.out)
        # The trainer's own outputs on the weights as exported, for the engine to reproduce.
        model.load_state_dict(rounded_state(model.state_dict(), args.dtype))
        seq = make_sequence(np.random.default_rng([args.seed, 99]), 512, 12, 4)
        ids = torch.tensor([seq.ids], dtype=torch.long)
        write_safetensors(
            os.path.join(args.out, "golden.safetensors"), golden(model, ids), {"producer": "tools/train/train_recall.py"}
        )
        log({"exported": args.out, "dtype": args.dtype})


if __name__ == "__main__":
    main()
