"""The needle-recall task of fixtures/recall (its README is the definition; keep both in step).

Vocabulary 512: 0 BOS, 1 EOS, 2 PAD, 3 query marker, 4..131 keys, 132..259 values, 260..511 filler.
A sequence is `[0] + context + queries`: context is L filler tokens in which P key-value pairs (key then its
value) overwrite filler at uniformly random non-overlapping positions (keys distinct, values uniform); queries
are Q triples `3 k v` for distinct keys of the pairs, in random order. The prediction at `position - 1` (after
`3 k`) must equal the value at `position`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import torch

BOS, EOS, PAD, QUERY = 0, 1, 2, 3
KEYS = range(4, 132)
VALUES = range(132, 260)
FILLER = range(260, 512)
VOCAB = 512


@dataclass
class RecallSequence:
    ids: list[int]
    answers: list[tuple[int, int]]  # (position, token), ids[position] == token


def make_sequence(
    rng: np.random.Generator, length: int, pairs: int, queries: int, key_pool: int = len(KEYS)
) -> RecallSequence:
    """One sequence of the task. key_pool < 128 draws keys from the first key_pool key ids only (a training
    curriculum: few distinct keys make the matching circuit form fast; evaluation always uses all 128)."""
    if not 1 <= queries <= pairs <= key_pool or 2 * pairs > length:
        raise ValueError(f"need 1 <= Q <= P and 2P <= L, got L={length} P={pairs} Q={queries}")
    context = rng.integers(FILLER.start, FILLER.stop, size=length)
    # P non-overlapping 2-token slots, uniform: choose P sorted starts among L - P, shift the i-th by i.
    starts = np.sort(rng.choice(length - pairs, size=pairs, replace=False)) + np.arange(pairs)
    keys = rng.choice(key_pool, size=pairs, replace=False) + KEYS.start
    values = rng.integers(VALUES.start, VALUES.stop, size=pairs)
    context[starts], context[starts + 1] = keys, values
    ids = [BOS] + context.tolist()
    answers = []
    for i in rng.permutation(pairs)[:queries]:
        ids += [QUERY, int(keys[i]), int(values[i])]
        answers.append((len(ids) - 1, int(values[i])))
    return RecallSequence(ids, answers)


def make_batch(
    rng: np.random.Generator,
    batch: int,
    length: int,
    pairs: tuple[int, int],
    queries: int | None,
    key_pool: int = len(KEYS),
):
    """ids i64 [B, 1+L+3Q] and labels i64 (the answer token at position-1, -100 elsewhere).

    pairs: (min, max) P drawn per sequence; queries: Q, or None for Q = P (more signal while learning).
    Sequences in a batch share Q so they share a length.
    """
    q = queries or pairs[1]
    seqs = []
    for _ in range(batch):
        p = int(rng.integers(max(pairs[0], q), pairs[1] + 1))
        seqs.append(make_sequence(rng, length, p, q, key_pool))
    return batch_of(seqs)


def read_jsonl(path: str) -> list[RecallSequence]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                out.append(RecallSequence(d["ids"], [tuple(a) for a in d["answers"]]))
    return out


def batch_of(seqs: list[RecallSequence]):
    """Stacks same-length sequences into ids i64 [B, S] and labels (the answer at position - 1, else -100)."""
    ids = torch.tensor([s.ids for s in seqs], dtype=torch.long)
    labels = torch.full_like(ids, -100)
    for b, s in enumerate(seqs):
        for pos, tok in s.answers:
            labels[b, pos - 1] = tok
    return ids, labels


def token_names() -> list[str]:
    """The 512 token strings: <bos> <eos> <pad> <q>, k0..k127, v0..v127, f0..f251."""
    names = ["<bos>", "<eos>", "<pad>", "<q>"]
    names += [f"k{i}" for i in range(len(KEYS))] + [f"v{i}" for i in range(len(VALUES))]
    names += [f"f{i}" for i in range(len(FILLER))]
    assert len(names) == VOCAB
    return names


def write_tokenizer(out_dir: str) -> None:
    """A word-level tokenizer.json (whitespace-split names, one per id) and tokenizer_config.json."""
    from .export import write_json

    names = token_names()
    special = [{"id": i, "content": names[i], "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": False, "special": True} for i in range(4)]
    write_json(f"{out_dir}/tokenizer.json", {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": special,
        "normalizer": None, "pre_tokenizer": {"type": "WhitespaceSplit"}, "post_processor": None,
        "decoder": None, "model": {"type": "WordLevel", "vocab": {n: i for i, n in enumerate(names)}, "unk_token": "<pad>"},
    })
    write_json(f"{out_dir}/tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<bos>", "eos_token": "<eos>",
        "pad_token": "<pad>", "add_bos_token": False, "model_max_length": 8192,
    })
