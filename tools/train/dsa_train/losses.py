"""The indexer's training losses (paper §2.1, eqs. 3 and 4).

p is the main attention distribution of a layer summed over heads and L1-normalised (recorded by the forward
pass with `record_probs`, detached); the indexer distribution is softmax over its scores I restricted to the
allowed keys: every causal key in the dense warm-up (eq. 3), only the selected set S_t in sparse training (eq. 4).
"""
from __future__ import annotations

import torch

from .model import AttentionControl


def indexer_kl(control: AttentionControl, causal: torch.Tensor, row_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Σ_layers mean_rows KL(p ‖ softmax(I | allowed)).

    causal: bool [S, T]; row_weights: optional f32 [B, S] (rows to average over, e.g. all ones).
    """
    total = torch.zeros((), dtype=torch.float32, device=causal.device)
    for scores, selected, p in zip(control.index_scores, control.selected, control.probs):
        allowed = causal.expand_as(scores) if selected is None else (selected & causal)
        logq = torch.log_softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
        term = torch.where(allowed, p * (p.clamp_min(1e-12).log() - logq), torch.zeros_like(p)).sum(-1)  # [B, S]
        if row_weights is None:
            total = total + term.mean()
        else:
            total = total + (term * row_weights).sum() / row_weights.sum().clamp_min(1)
    return total


def selection_recall(control: AttentionControl) -> torch.Tensor:
    """Per layer, the share of p's mass on the selected keys, f32 [layers, B, S] (1 where the layer was dense)."""
    out = []
    for selected, p in zip(control.selected, control.probs):
        out.append(torch.ones(p.shape[:-1], device=p.device) if selected is None else (p * selected).sum(-1))
    return torch.stack(out)
