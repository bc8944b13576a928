"""The paper's training recipe (dsa-spec.md §4.1; shared/docs/demo-model.md §3.4), as three phases:

A  dense pretraining: attention dense, the indexer idle; trains everything but `*.indexer.*` on the LM loss.
B  dense warm-up of the indexer: the main model frozen; loss Σ_layers KL(p ‖ softmax(I)) over causal keys.
C  sparse training: attention over the indexer's top-k only; the main model on the LM loss, the indexer on the
   KL over its selected set; the two losses reach disjoint parameters (the indexer's inputs and p are detached),
   each group has its own optimizer and its own gradient clipping.

MoE balancing is DeepSeek-V3's aux-loss-free bias update after every optimizer step of A and C (frozen in B).
Training is resumable: `Checkpointer` saves model, optimizers, phase, step and RNG state atomically.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import numpy as np
import torch
import torch.nn.functional as F

from .losses import indexer_kl
from .model import AttentionControl, DeepseekV32

Batch = tuple[torch.Tensor, torch.Tensor]  # ids i64 [B, S], labels i64 [B, S] (-100: not scored)


@dataclass
class Phase:
    """One stretch of training. kind: 'A' | 'B' | 'C'. lr: peak (main group in C); indexer_lr for B/C."""

    name: str
    kind: str
    steps: int
    lr: float
    batches: Callable[[np.random.Generator], Batch]
    indexer_lr: float = 1e-3
    warmup: int = 50
    decay_from: float = 0.8  # warmup-stable-decay: linear decay to 10% over the last 20% of steps
    index_topk: Optional[int] = None
    weight_decay: float = 0.1
    bias_update: float = 5e-3
    # Training-only auxiliary loss (phase A): a separate linear head reads the residual after layer 0 and
    # predicts the previous token. It gives the first layer a direct signal to build the previous-token
    # attention that retrieval ("induction") needs, which otherwise forms only after a long plateau. The
    # head is not part of the model and is never exported (like DeepSeek's training-only MTP modules).
    aux_prev_token: float = 0.0


def wsd(step: int, phase: Phase, peak: float) -> float:
    if step < phase.warmup:
        return peak * (step + 1) / phase.warmup
    start = int(phase.steps * phase.decay_from)
    if step < start:
        return peak
    return peak * (1 - 0.9 * (step - start) / max(1, phase.steps - start))


def lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)


def answer_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    scored = labels != -100
    return float((logits.argmax(-1)[scored] == labels[scored]).float().mean()) if scored.any() else float("nan")


def update_router_bias(model: DeepseekV32, rate: float) -> list[float]:
    """e_score_correction_bias += rate · sign(mean load − load); returns max/mean load per MoE layer."""
    ratios = []
    for gate in model.gates():
        load = gate.last_load
        if load is None or load.sum() == 0:
            continue
        gate.e_score_correction_bias += rate * torch.sign(load.mean() - load)
        ratios.append(float(load.max() / load.mean()))
    return ratios


def make_optimizer(params, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    decay = [p for p in params if p.dim() >= 2]
    rest = [p for p in params if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}],
        lr=lr,
        betas=(0.9, 0.95),
        eps=1e-8,
    )


class Checkpointer:
    """Saves and restores training state in `run_dir/checkpoint.pt` (atomic replace)."""

    def __init__(self, run_dir: str):
        self.path = os.path.join(run_dir, "checkpoint.pt")
        os.makedirs(run_dir, exist_ok=True)

    def load(self) -> Optional[dict]:
        return torch.load(self.path, map_location="cpu") if os.path.exists(self.path) else None

    def save(self, state: dict) -> None:
        tmp = self.path + ".tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.path)


class Trainer:
    """Runs phases in order over one model, logging JSON lines, resuming where a checkpoint left off."""

    def __init__(self, model: DeepseekV32, run_dir: str, seed: int, log: Callable[[dict], None], save_every_s: float = 120):
        self.model, self.run_dir, self.seed, self.log = model, run_dir, seed, log
        self.checkpointer = Checkpointer(run_dir)
        self.save_every_s = save_every_s
        self.done: list[str] = []
        self.resume: Optional[dict] = self.checkpointer.load()
        if self.resume:
            model.load_state_dict(self.resume["model"])
            self.done = self.resume["done"]

    def run(self, phase: Phase, evaluate: Optional[Callable[[], dict]] = None, eval_every: int = 0) -> None:
        if phase.name in self.done:
            return
        model = self.model
        indexer_params = model.indexer_parameters()
        main_params = model.main_parameters()
        for p in model.parameters():
            p.requires_grad_(True)
        if phase.kind == "A":
            for p in indexer_params:
                p.requires_grad_(False)
            opts = {"main": make_optimizer(main_params, phase.lr, phase.weight_decay)}
        elif phase.kind == "B":
            for p in main_params:
                p.requires_grad_(False)
            opts = {"indexer": make_optimizer(indexer_params, phase.indexer_lr, 0.0)}
        elif phase.kind == "C":
            opts = {
                "main": make_optimizer(main_params, phase.lr, phase.weight_decay),
                "indexer": make_optimizer(indexer_params, phase.indexer_lr, 0.0),
            }
        else:
            raise ValueError(f"phase kind {phase.kind!r}: expected A, B or C")
        aux_head = None
        if phase.kind == "A" and phase.aux_prev_token > 0:
            aux_head = getattr(self, "aux_head", None)
            if aux_head is None:
                self.aux_head = aux_head = torch.nn.Linear(model.args.hidden_size, model.args.vocab_size, bias=False).to(
                    next(model.parameters()).device
                )
            opts["aux"] = make_optimizer(list(aux_head.parameters()), phase.lr, 0.0)
        groups = {"main": main_params, "indexer": indexer_params, "aux": list(aux_head.parameters()) if aux_head else []}
        peaks = {"main": phase.lr, "indexer": phase.indexer_lr, "aux": phase.lr}

        start = 0
        rng = np.random.default_rng([self.seed, len(self.done)])
        if self.resume and self.resume.get("phase") == phase.name:
            start = self.resume["step"]
            for k, o in opts.items():
                o.load_state_dict(self.resume["optimizers"][k])
            rng.bit_generator.state = self.resume["rng"]
            torch.set_rng_state(self.resume["torch_rng"])
        self.resume = None

        last_save = time.time()
        t0 = time.time()
        for step in range(start, phase.steps):
            ids, labels = phase.batches(rng)
            device = next(model.parameters()).device
            ids, labels = ids.to(device), labels.to(device)
            causal = torch.ones(ids.shape[1], ids.shape[1], dtype=torch.bool, device=device).tril()
            control = AttentionControl(
                mode="sparse" if phase.kind == "C" else "dense",
                index_topk=phase.index_topk,
                score_indexer=phase.kind == "B",
                record_probs=phase.kind in ("B", "C"),
            )
            for k, o in opts.items():
                for g in o.param_groups:
                    g["lr"] = wsd(step, phase, peaks[k])
            taps: Optional[list] = [] if aux_head is not None else None
            logits = model(ids, control, taps)
            record: dict = {"phase": phase.name, "step": step + 1}
            loss = torch.zeros((), device=device)
            if aux_head is not None:
                aux = F.cross_entropy(aux_head(taps[0][:, 1:]).flatten(0, 1), ids[:, :-1].flatten())
                loss = loss + phase.aux_prev_token * aux
                record["aux_prev"] = round(float(aux), 3)
            if phase.kind in ("A", "C"):
                lm = lm_loss(logits, labels)
                loss = loss + lm
                record.update(lm_loss=round(float(lm), 4), acc=round(answer_accuracy(logits, labels), 4))
            if phase.kind in ("B", "C"):
                kl = indexer_kl(control, causal)
                loss = loss + kl
                record.update(kl=round(float(kl), 4))
            for o in opts.values():
                o.zero_grad(set_to_none=True)
            loss.backward()
            for k in opts:
                torch.nn.utils.clip_grad_norm_([p for p in groups[k] if p.grad is not None], 1.0)
            for o in opts.values():
                o.step()
            if phase.kind in ("A", "C"):
                loads = update_router_bias(model, phase.bias_update)
                if loads:
                    record["max_load"] = round(max(loads), 3)
            if (step + 1) % 10 == 0 or step + 1 == phase.steps:
                record["s_per_step"] = round((time.time() - t0) / (step + 1 - start), 3)
                if evaluate and eval_every and ((step + 1) % eval_every == 0 or step + 1 == phase.steps):
                    record["eval"] = evaluate()
                self.log(record)
            if time.time() - last_save > self.save_every_s:
                self.save(phase.name, step + 1, opts, rng)
                last_save = time.time()
        self.done.append(phase.name)
        self.save(None, 0, {}, rng)

    def save(self, phase: Optional[str], step: int, opts: dict, rng: np.random.Generator) -> None:
        self.checkpointer.save(
            {
                "model": self.model.state_dict(),
                "done": self.done,
                "phase": phase,
                "step": step,
                "optimizers": {k: o.state_dict() for k, o in opts.items()},
                "rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
            }
        )
