#!/usr/bin/env python3
"""Times the trainer's phases (A dense with the fused kernel, B indexer warm-up, C sparse) on a model shape and
checks the fused dense path against the explicit one. Calibrates a GPU run's step counts before it is planned.

  python3 tools/train/probe_speed.py --device cuda --shape demo-s --out probe.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dsa_train.losses import indexer_kl  # noqa: E402
from dsa_train.model import AttentionControl, DeepseekV32  # noqa: E402
from dsa_train.recipe import lm_loss  # noqa: E402
from dsa_train.shapes import SHAPES  # noqa: E402



def step_time(model, kind: str, batch: int, length: int, steps: int, device: str, amp: bool) -> float:
    for p in model.main_parameters():
        p.requires_grad_(kind != "B")
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    causal = torch.ones(length, length, dtype=torch.bool, device=device).tril()
    times = []
    for i in range(steps):
        ids = torch.randint(16, model.args.vocab_size, (batch, length), device=device)
        control = AttentionControl(
            mode="sparse" if kind == "C" else "dense", score_indexer=kind == "B", record_probs=kind in ("B", "C")
        )
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.time()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=amp):
            if kind == "B":  # the main model frozen, as in the trainer
                model(ids, control)
                loss = indexer_kl(control, causal)
            else:
                logits = model(ids, control)
                loss = lm_loss(logits[:, :-1], ids[:, 1:])
                if kind == "C":
                    loss = loss + indexer_kl(control, causal)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.time() - t)
    warm = times[len(times) // 3 :]
    return sum(warm) / len(warm)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--shape", default="demo-s", choices=sorted(SHAPES))
    ap.add_argument("--plan", default="A:64x1024,A:32x2048,B:16x2048,C:16x2048", help="kind:BxS list")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--no-amp", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    torch.manual_seed(0)
    shape = SHAPES[args.shape]
    model = DeepseekV32(shape).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    report: dict = {"shape": args.shape, "params": n_params, "torch": torch.__version__, "device": args.device}
    # the fused dense path against the explicit one (f32)
    ids = torch.randint(16, shape.vocab_size, (2, 256), device=args.device)
    with torch.no_grad():
        fused = model(ids, AttentionControl())
        explicit = model(ids, AttentionControl(record_probs=True))
    report["fused_vs_explicit_max_abs"] = float((fused - explicit).abs().max())
    for item in args.plan.split(","):
        kind, bs = item.split(":")
        batch, length = (int(v) for v in bs.split("x"))
        try:
            s = step_time(model, kind, batch, length, args.steps, args.device, not args.no_amp)
            report[item] = {"s_per_step": round(s, 4), "tok_per_s": round(batch * length / s)}
        except torch.cuda.OutOfMemoryError as e:  # type: ignore[attr-defined]
            report[item] = {"error": str(e)[:200]}
        if args.device == "cuda":
            report[item]["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
            torch.cuda.reset_peak_memory_stats()
            torch.cuda.empty_cache()
        print(json.dumps({item: report[item]}), flush=True)
    print(json.dumps(report))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
