"""Token streams for language-model training: packed documents and masked chat examples (uint16 files).

`TEXT`: `train.u16` holds documents as `BOS doc EOS` back to back (little-endian uint16 ids); a training row is a
random window of S+1 tokens (documents packed, no cross-document masking): ids = window[:-1], labels = window[1:].
`CHAT`: `chat-train.u16` + `chat-train.mask.u8` hold chat examples back to back, the mask 1 on the assistant's
answer tokens. A chat row is a window that starts at an example's BOS; labels are -100 where the target token is
not part of an answer. Batches follow recipe.Batch: labels[b, s] is the target of the prediction at position s.
"""
from __future__ import annotations

import os
from typing import Callable, Optional

import numpy as np
import torch


class TokenStream:
    """A uint16 token file (memory-mapped) with an optional per-token uint8 label mask of the same length."""

    def __init__(self, path: str, mask_path: Optional[str] = None, bos: int = 0):
        self.ids = np.memmap(path, dtype="<u2", mode="r")  # [N]
        self.mask = np.memmap(mask_path, dtype="u1", mode="r") if mask_path else None  # [N]
        if self.mask is not None and self.mask.shape != self.ids.shape:
            raise ValueError(f"{mask_path}: {self.mask.shape[0]} mask bytes for {self.ids.shape[0]} tokens")
        self.bos = bos
        self._starts: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def starts(self) -> np.ndarray:
        """Positions of BOS (example starts), computed once."""
        if self._starts is None:
            self._starts = np.flatnonzero(np.asarray(self.ids) == self.bos)
        return self._starts

    def window(self, start: int, length: int) -> tuple[np.ndarray, np.ndarray]:
        """ids i64 [length] and labels i64 [length] from the `length + 1` tokens at `start` (wrapping around)."""
        n = len(self)
        idx = (start + np.arange(length + 1)) % n
        tokens = np.asarray(self.ids[idx], dtype=np.int64)
        labels = tokens[1:].copy()
        if self.mask is not None:
            labels[np.asarray(self.mask[idx[1:]]) == 0] = -100
        return tokens[:-1], labels

    def random_window(self, rng: np.random.Generator, length: int, at_starts: bool) -> tuple[np.ndarray, np.ndarray]:
        starts = self.starts() if at_starts else None
        if starts is not None and len(starts):
            return self.window(int(starts[rng.integers(len(starts))]), length)
        return self.window(int(rng.integers(len(self))), length)


def open_split(data_dir: str, split: str, bos: int = 0) -> tuple[TokenStream, Optional[TokenStream]]:
    """(text, chat) streams of split 'train' | 'heldout' (chat None when its files are missing)."""
    text = TokenStream(os.path.join(data_dir, f"{split}.u16"), bos=bos)
    chat_ids = os.path.join(data_dir, f"chat-{split}.u16")
    chat = None
    if os.path.exists(chat_ids):
        chat = TokenStream(chat_ids, os.path.join(data_dir, f"chat-{split}.mask.u8"), bos=bos)
    return text, chat


def mixed_batches(
    text: TokenStream,
    chat: Optional[TokenStream],
    batch: int,
    length: int,
    chat_share: float = 0.0,
    chat_from: float = 0.0,
) -> Callable[[np.random.Generator, float], tuple[torch.Tensor, torch.Tensor]]:
    """A recipe.Phase batch maker: `batch` rows of `length`; from phase progress `chat_from` on, each row is a chat
    row with probability `chat_share` (else a text window)."""

    def make(rng: np.random.Generator, progress: float) -> tuple[torch.Tensor, torch.Tensor]:
        ids = np.empty((batch, length), dtype=np.int64)  # [B, S]
        labels = np.empty((batch, length), dtype=np.int64)  # [B, S]
        use_chat = chat is not None and chat_share > 0 and progress >= chat_from
        for row in range(batch):
            if use_chat and rng.random() < chat_share:
                ids[row], labels[row] = chat.random_window(rng, length, at_starts=True)
            else:
                ids[row], labels[row] = text.random_window(rng, length, at_starts=False)
        return torch.from_numpy(ids), torch.from_numpy(labels)

    return make


def heldout_windows(text: TokenStream, count: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` fixed, evenly spaced, non-overlapping (when the stream is long enough) windows: ids, labels [count, length]."""
    step = max(1, (len(text) - length - 1) // max(1, count))
    rows = [text.window(i * step, length) for i in range(count)]
    return torch.from_numpy(np.stack([r[0] for r in rows])), torch.from_numpy(np.stack([r[1] for r in rows]))
