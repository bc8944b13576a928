"""Reference outputs of the trainer for the engine to reproduce (tests/trainer-fidelity.test.ts)."""
from __future__ import annotations

import numpy as np
import torch

from .losses import selection_recall
from .model import AttentionControl, DeepseekV32


def golden(model: DeepseekV32, ids: torch.Tensor) -> list[tuple[str, str, np.ndarray]]:
    """ids [1, S] → tensors for golden.safetensors: ids, logits_sparse/dense [S, V], topk_indices [layers, S, K]
    (ascending, -1 padded), topk_margin [layers, S] (k-th minus (k+1)-th index score; inf where all fit), selected_mass [layers, S]
    (share of the dense attention, head-summed and L1-normalised, on the top-k of a dense pass)."""
    with torch.no_grad():
        sparse = AttentionControl(mode="sparse")
        logits_sparse = model(ids, sparse)[0]
        dense = AttentionControl(mode="dense", measure_selection=True, record_probs=True)
        logits_dense = model(ids, dense)[0]
        selected_mass = selection_recall(dense)[:, 0]  # [layers, S]: dense attention mass on the top-k
    k = model.args.index_topk
    s = ids.shape[1]
    topk = np.full((model.args.num_hidden_layers, s, k), -1, dtype=np.int32)
    margin = np.full((model.args.num_hidden_layers, s), np.inf, dtype=np.float32)
    for layer, (scores, selected) in enumerate(zip(sparse.index_scores, sparse.selected)):
        for row in range(s):
            chosen = torch.nonzero(selected[0, row]).flatten().tolist() if selected is not None else list(range(row + 1))
            topk[layer, row, : len(chosen)] = chosen
            ranked = torch.sort(scores[0, row], descending=True).values
            if row + 1 > k and ranked[k] > float("-inf"):
                margin[layer, row] = float(ranked[k - 1] - ranked[k])
    return [
        ("ids", "I32", ids[0].numpy().astype("<i4")),
        ("logits_sparse", "F32", logits_sparse.numpy().astype("<f4")),
        ("logits_dense", "F32", logits_dense.numpy().astype("<f4")),
        ("topk_indices", "I32", topk.astype("<i4")),
        ("topk_margin", "F32", margin.astype("<f4")),
        ("selected_mass", "F32", selected_mass.numpy().astype("<f4")),
    ]
