"""Start-up self-tests of a training run (shared/docs/demo-model.md §3.6): cheap checks that fail fast, before
the time budget is spent, on what would otherwise break late (a context switch, memory of the sparse phases)."""
from __future__ import annotations

import copy
import dataclasses
import math
import tempfile
from typing import Callable

import torch

from .model import AttentionControl, DeepseekV32, fused_attention_available
from .recipe import Phase, Trainer


class SelfTestError(RuntimeError):
    pass


def check_fused_attention(model: DeepseekV32, length: int = 256, tolerance: float = 2e-3) -> dict:
    """The fused dense kernel (phase A, A2) and the explicit path (B, C, evaluation) give the same logits (f32)."""
    if not fused_attention_available():
        return {"fused_vs_explicit": "fused attention unavailable (torch < 2.1): explicit path only"}
    device = next(model.parameters()).device
    ids = torch.randint(0, model.args.vocab_size, (2, length), generator=torch.Generator().manual_seed(1)).to(device)
    with torch.no_grad():
        fused = model(ids, AttentionControl())
        explicit = model(ids, AttentionControl(record_probs=True))
    gap = float((fused - explicit).abs().max())
    if not gap < tolerance:
        raise SelfTestError(f"fused vs explicit attention: max |Δlogits| {gap:.3g} >= {tolerance}")
    return {"fused_vs_explicit_max_abs": gap}


def check_rope_switch(model: DeepseekV32, scaling: dict, length: int = 128, tolerance: float = 1e-4) -> dict:
    """set_rope_scaling on existing weights equals a model built with that rope_scaling (f32, dense and sparse)."""
    device = next(model.parameters()).device
    switched = copy.deepcopy(model)
    switched.set_rope_scaling(scaling)
    fresh = DeepseekV32(dataclasses.replace(model.args, rope_scaling=dict(scaling))).to(device)
    fresh.load_state_dict(model.state_dict())
    ids = torch.randint(0, model.args.vocab_size, (1, length), generator=torch.Generator().manual_seed(2)).to(device)
    gaps = {}
    with torch.no_grad():
        for mode in ("dense", "sparse"):
            a = switched(ids, AttentionControl(mode=mode, record_probs=True))
            b = fresh(ids, AttentionControl(mode=mode, record_probs=True))
            gaps[mode] = float((a - b).abs().max())
    scale_gap = abs(switched.model.layers[0].self_attn.softmax_scale - fresh.model.layers[0].self_attn.softmax_scale)
    if max(gaps.values()) > tolerance or scale_gap > 1e-12 or switched.args.hf_config() != fresh.args.hf_config():
        raise SelfTestError(f"set_rope_scaling differs from a fresh YaRN model: {gaps}, softmax scale Δ {scale_gap}")
    plain = copy.deepcopy(switched)
    plain.set_rope_scaling(None)  # and back
    with torch.no_grad():
        back = float((plain(ids) - model(ids)).abs().max())
    if back > tolerance:
        raise SelfTestError(f"set_rope_scaling(None) does not restore plain RoPE: {back}")
    return {"rope_switch_max_abs": max(gaps.values())}


def check_phase_steps(model: DeepseekV32, phases: list[Phase], amp: bool, prepare: Callable[[DeepseekV32, Phase], None]) -> dict:
    """One step of each phase at its real batch shape on a copy of the model (memory, NaNs); `prepare(model,
    phase)` sets up the model for the phase (e.g. its RoPE). Returns each phase's first losses."""
    trial = copy.deepcopy(model)
    out = {}
    with tempfile.TemporaryDirectory() as run_dir:
        records: list[dict] = []
        trainer = Trainer(trial, run_dir, seed=0, log=records.append, save_every_s=1e9, amp=amp)
        for phase in phases:
            prepare(trial, phase)
            trainer.run(dataclasses.replace(phase, name=f"selftest-{phase.name}", steps=1, budget_s=None, warmup=1))
            record = records[-1]
            losses = {k: record[k] for k in ("lm_loss", "kl") if k in record}
            if not losses or not all(math.isfinite(v) for v in losses.values()):
                raise SelfTestError(f"phase {phase.name}: one step gave {record}")
            out[phase.name] = losses
    if torch.cuda.is_available():
        out["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
    return out
