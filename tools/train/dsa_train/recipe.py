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

Batch = tuple[torch.Tensor, torch.Tensor]  # ids i64 [B, S], labels i64 [B, S]: labels[b, s] is the target of the
# prediction at position s (the next token), -100 where not scored


@dataclass
class Phase:
    """One stretch of training. kind: 'A' | 'B' | 'C'. lr: peak (main group in C); indexer_lr for B/C.

    batches(rng, progress) makes a step's batch; progress = step / steps in [0, 1) (for mixtures that change
    within a phase). budget_s: when set, the phase is time-boxed: `steps` is only an upper bound, and after
    `calibrate_steps` timed steps (following `untimed_steps` of warm-up: allocator, kernel autotuning) the step
    count is fitted so the phase ends inside budget_s of wall time, evaluations included; it is re-fitted at every
    log line until the decay starts, so the WSD decay always runs to its end.
    """

    name: str
    kind: str
    steps: int
    lr: float
    batches: Callable[[np.random.Generator, float], Batch]
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
    budget_s: Optional[float] = None
    untimed_steps: int = 3
    calibrate_steps: int = 12
    log_every: int = 10


def fit_steps(budget_s: float, done: int, timed_steps: int, timed_s: float, elapsed_s: float) -> int:
    """How many steps fit in budget_s: `done` steps took `elapsed_s` in all, and the last `timed_steps` of them
    `timed_s` (the steady rate, evaluations included). At least done + 1."""
    per_step = max(timed_s / max(1, timed_steps), 1e-9)
    return done + max(1, int(max(0.0, budget_s - elapsed_s) // per_step))


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

    def __init__(
        self,
        model: DeepseekV32,
        run_dir: str,
        seed: int,
        log: Callable[[dict], None],
        save_every_s: float = 120,
        amp: bool = False,
    ):
        """amp: bf16 autocast for the forward pass and the losses (CUDA); the weights stay f32 (the master copy)."""
        self.model, self.run_dir, self.seed, self.log, self.amp = model, run_dir, seed, log, amp
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
        timed = phase.budget_s is not None
        if self.resume and self.resume.get("phase") == phase.name:
            start = self.resume["step"]
            if self.resume.get("steps"):
                phase.steps, timed = self.resume["steps"], False  # the fitted count of the interrupted run
            for k, o in opts.items():
                o.load_state_dict(self.resume["optimizers"][k])
            rng.bit_generator.state = self.resume["rng"]
            torch.set_rng_state(self.resume["torch_rng"])
        self.resume = None

        last_save = time.time()
        t0 = time.time()
        calibration_start: Optional[tuple[int, float]] = None  # (step, time) where the timed stretch began
        device = next(model.parameters()).device
        step = start
        while step < phase.steps:
            if timed and step - start == phase.untimed_steps:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                calibration_start = (step, time.time())
            ids, labels = phase.batches(rng, step / phase.steps)
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
            record: dict = {"phase": phase.name, "step": step + 1}
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.amp):
                logits = model(ids, control, taps)
                loss = torch.zeros((), device=device)
                if aux_head is not None:
                    aux = F.cross_entropy(aux_head(taps[0][:, 1:]).flatten(0, 1).float(), ids[:, :-1].flatten())
                    loss = loss + phase.aux_prev_token * aux
                    record["aux_prev"] = aux.detach()
                if phase.kind in ("A", "C"):
                    lm = lm_loss(logits, labels)
                    loss = loss + lm
                    record["lm_loss"] = lm.detach()
                if phase.kind in ("B", "C"):
                    kl = indexer_kl(control, causal)
                    loss = loss + kl
                    record["kl"] = kl.detach()
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
            step += 1
            timed_steps = step - calibration_start[0] if calibration_start else -1
            fit_now = timed_steps == phase.calibrate_steps or (timed_steps > phase.calibrate_steps and step % phase.log_every == 0)
            if step % phase.log_every == 0 or step >= phase.steps or fit_now:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                now = time.time()
                if fit_now and step < int(phase.steps * phase.decay_from):
                    fitted = fit_steps(phase.budget_s, step - start, timed_steps, now - calibration_start[1], now - t0)
                    phase.steps = min(phase.steps, start + fitted)
                    record["fitted_steps"] = phase.steps
                # Reading the losses syncs the device, so only on log lines.
                for key in ("lm_loss", "kl", "aux_prev"):
                    if key in record:
                        record[key] = round(float(record[key]), 4)
                if "lm_loss" in record:
                    record["acc"] = round(answer_accuracy(logits.detach(), labels), 4)
                record["s_per_step"] = round((now - t0) / (step - start), 4)
                record["tok_per_s"] = round(ids.numel() * (step - start) / (now - t0))
                record["lr"] = float(f"{wsd(step - 1, phase, peaks['indexer' if phase.kind == 'B' else 'main']):.3g}")
                if evaluate and eval_every and (step % eval_every == 0 or step == phase.steps):
                    record["eval"] = evaluate()
                self.log(record)
            if time.time() - last_save > self.save_every_s:
                self.save(phase.name, step, opts, rng, phase.steps)
                last_save = time.time()
        self.done.append(phase.name)
        self.save(None, 0, {}, rng)

    def save(self, phase: Optional[str], step: int, opts: dict, rng: np.random.Generator, steps: int = 0) -> None:
        self.checkpointer.save(
            {
                "model": self.model.state_dict(),
                "done": self.done,
                "phase": phase,
                "step": step,
                "steps": steps,
                "optimizers": {k: o.state_dict() for k, o in opts.items()},
                "rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
            }
        )
