"""Held-out measurements of a DSA model (shared/docs/demo-model.md §4): perplexity under several key selections,
the indexer's recall of the dense attention mass, and greedy generation.

Selections (bool [B, S, T] masks, applied through AttentionControl mode 'given' or the indexer's own 'sparse'):
  indexer-k  the indexer's top-k (the model as shipped)
  window-k   the last k keys, self included
  random-k   self plus k-1 random earlier keys
  oracle-k   the top-k of the true dense attention p of the layer (head-summed, L1-normalised, from a dense pass)
Rows with at most k causal keys see every key in every mode, so perplexities count positions s >= `from_pos`
(0-based; from_pos = k: rows with more than k keys) and only labels != -100.
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from .model import AttentionControl, DeepseekV32


def window_selection(b: int, s: int, k: int, device: torch.device) -> torch.Tensor:
    """bool [B, S, T]: key t is selected for query s when s - k < t <= s."""
    pos = torch.arange(s, device=device)
    diff = pos[:, None] - pos[None, :]  # [S, T]
    return ((diff >= 0) & (diff < k)).expand(b, s, s)


def random_selection(b: int, s: int, k: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """bool [B, S, T]: self plus k-1 keys drawn uniformly from the earlier ones (all keys when fewer)."""
    earlier = torch.ones(s, s, dtype=torch.bool).tril(-1)  # [S, T]
    noise = torch.rand(b, s, s, generator=generator).masked_fill(~earlier, -1.0)  # [B, S, T]
    top = noise.topk(min(k - 1, s), dim=-1).indices
    chosen = torch.zeros(b, s, s, dtype=torch.bool).scatter_(-1, top, True) & earlier
    return (chosen | torch.eye(s, dtype=torch.bool)).to(device)


def oracle_selection(p: torch.Tensor, k: int) -> torch.Tensor:
    """p f32 [B, S, T] (0 on non-causal keys) → bool [B, S, T]: its top-k causal keys."""
    causal = torch.ones(p.shape[-2], p.shape[-1], dtype=torch.bool, device=p.device).tril()
    top = p.topk(min(k, p.shape[-1]), dim=-1).indices
    return torch.zeros_like(p, dtype=torch.bool).scatter_(-1, top, True) & causal


def nll_sum(logits: torch.Tensor, labels: torch.Tensor, from_pos: int) -> tuple[float, int]:
    """logits [B, S, V], labels [B, S] → (Σ NLL, count) over positions >= from_pos with a label."""
    labels = labels[:, from_pos:]
    scored = labels != -100
    nll = torch.nn.functional.cross_entropy(
        logits[:, from_pos:].float().flatten(0, 1), labels.flatten(), ignore_index=-100, reduction="sum"
    )
    return float(nll), int(scored.sum())


class Tally:
    """Running sums of NLL per mode and of per-layer recall statistics."""

    def __init__(self) -> None:
        self.nll: dict[str, list[float]] = {}
        self.layers: dict[str, list[float]] = {}
        self.rows = 0

    def add_nll(self, mode: str, value: tuple[float, int]) -> None:
        acc = self.nll.setdefault(mode, [0.0, 0])
        acc[0] += value[0]
        acc[1] += value[1]

    def add_layers(self, name: str, per_layer_sums: list[float]) -> None:
        acc = self.layers.setdefault(name, [0.0] * len(per_layer_sums))
        for i, v in enumerate(per_layer_sums):
            acc[i] += v

    def perplexities(self) -> dict[str, float]:
        return {m: round(math.exp(s / max(1, n)), 4) for m, (s, n) in self.nll.items()}

    def recall(self) -> dict[str, list[float]]:
        return {name: [round(v / max(1, self.rows), 4) for v in sums] for name, sums in self.layers.items()}


def evaluate_context(
    model: DeepseekV32,
    ids: torch.Tensor,
    labels: torch.Tensor,
    k: int,
    extra_ks: tuple[int, ...] = (),
    chunk: int = 4,
    amp: bool = False,
    seed: int = 0,
    modes: tuple[str, ...] = ("dense", "indexer", "window", "random", "oracle"),
) -> dict:
    """Perplexity per selection mode and per-layer recall over held-out rows ids/labels [N, S] (CPU tensors),
    counted on positions >= k. Recall, per layer, over queries s >= k, of the dense attention mass p caught by:
    the indexer's top-k (`indexer_mass`), the top-k of p itself (`oracle_mass`), the window (`window_mass`);
    and the share of the indexer's top-k inside p's top-k (`overlap`)."""
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    tally = Tally()
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        for start in range(0, ids.shape[0], chunk):
            x, y = ids[start : start + chunk].to(device), labels[start : start + chunk].to(device)  # [b, S]
            b, s = x.shape
            dense = AttentionControl(mode="dense", measure_selection=True, index_topk=k, record_probs=True)
            tally.add_nll("dense", nll_sum(model(x, dense), y, k))
            window = window_selection(b, s, k, device)
            oracle = [oracle_selection(p, k) for p in dense.probs]
            rows = b * (s - k)
            tally.rows += rows
            tally.add_layers("indexer_mass", [float((p * sel)[:, k:].sum()) for p, sel in zip(dense.probs, dense.selected)])
            tally.add_layers("oracle_mass", [float((p * o)[:, k:].sum()) for p, o in zip(dense.probs, oracle)])
            tally.add_layers("window_mass", [float((p * window)[:, k:].sum()) for p in dense.probs])
            tally.add_layers("overlap", [float((sel & o)[:, k:].sum()) / k for sel, o in zip(dense.selected, oracle)])
            del dense
            if "indexer" in modes:
                for kk in (k, *extra_ks):
                    tally.add_nll(f"indexer-{kk}", nll_sum(model(x, AttentionControl(mode="sparse", index_topk=kk)), y, k))
            given = {
                "window": lambda: [window] * model.args.num_hidden_layers,
                "random": lambda: [random_selection(b, s, k, generator, device)] * model.args.num_hidden_layers,
                "oracle": lambda: oracle,
            }
            for mode, selection in given.items():
                if mode in modes:
                    logits = model(x, AttentionControl(mode="given", selection=selection()))
                    tally.add_nll(f"{mode}-{k}", nll_sum(logits, y, k))
    return {"positions_from": k, "tokens": tally.nll["dense"][1], "ppl": tally.perplexities(), "recall": tally.recall()}


def perplexity(
    model: DeepseekV32, ids: torch.Tensor, labels: torch.Tensor, from_pos: int, mode: str = "dense", chunk: int = 4, amp: bool = False
) -> float:
    """Perplexity of mode 'dense' or 'sparse' (the indexer's top-k) over positions >= from_pos."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        for start in range(0, ids.shape[0], chunk):
            x, y = ids[start : start + chunk].to(device), labels[start : start + chunk].to(device)
            nll, n = nll_sum(model(x, AttentionControl(mode=mode)), y, from_pos)
            total, count = total + nll, count + n
    return round(math.exp(total / max(1, count)), 4)


def greedy(model: DeepseekV32, prompt: list[int], new_tokens: int, stop: Optional[int], mode: str = "sparse", amp: bool = False) -> list[int]:
    """Greedy continuation of prompt (whole-sequence forward per token; the demo model is small)."""
    device = next(model.parameters()).device
    ids = list(prompt)
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        for _ in range(new_tokens):
            logits = model(torch.tensor([ids], device=device), AttentionControl(mode=mode))  # [1, S, V]
            nxt = int(logits[0, -1].argmax())
            ids.append(nxt)
            if nxt == stop:
                break
    return ids[len(prompt) :]
