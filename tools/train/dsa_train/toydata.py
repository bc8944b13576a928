"""A tiny synthetic data directory in the demo-model format (tools/demo-model's build output), for tests.

Files: train.u16 / heldout.u16 (documents `BOS doc EOS`), chat-{train,heldout}.u16 + .mask.u8 (mask 1 on the
answer and its EOS), tokenizer.json (a word-level tokenizer over the toy ids), tokenizer_config.json, meta.json,
heldout-docs.jsonl, sources.json. Documents follow a sparse random bigram table and repeat an earlier span of
themselves, so both local statistics and long-range copying can be learned; a chat answer is its question
reversed.
"""
from __future__ import annotations

import json
import os

import numpy as np

SPECIAL = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "</think>"]
BOS, EOS, USER, ASSISTANT, THINK_END = range(5)


def _document(rng: np.random.Generator, table: np.ndarray, length: int) -> list[int]:
    words = [int(rng.integers(len(SPECIAL), table.shape[0]))]
    while len(words) < length:
        if len(words) > 40 and rng.random() < 0.02:  # copy an earlier span
            a = int(rng.integers(0, len(words) - 16))
            words.extend(words[a : a + 16])
        else:
            words.append(int(table[words[-1], rng.integers(table.shape[1])]))
    return [BOS, *words[:length], EOS]


def _chat(rng: np.random.Generator, vocab: int) -> tuple[list[int], list[int]]:
    question = [int(v) for v in rng.integers(len(SPECIAL), vocab, int(rng.integers(3, 12)))]
    prompt = [BOS, USER, *question, ASSISTANT, THINK_END]
    answer = [*question[::-1], EOS]
    return prompt + answer, [0] * len(prompt) + [1] * len(answer)


def make_toy_data(out_dir: str, vocab: int = 512, train_tokens: int = 200_000, seed: int = 0) -> None:
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    table = rng.integers(len(SPECIAL), vocab, (vocab, 4))  # each word has 4 likely successors
    docs = {"train": [], "heldout": []}
    for split, total in (("train", train_tokens), ("heldout", train_tokens // 10)):
        stream: list[int] = []
        while len(stream) < total:
            doc = _document(rng, table, int(rng.integers(100, 600)))
            docs[split].append(doc)
            stream.extend(doc)
        np.asarray(stream, dtype="<u2").tofile(os.path.join(out_dir, f"{split}.u16"))
        chat_ids: list[int] = []
        chat_mask: list[int] = []
        while len(chat_ids) < total // 5:
            ids, mask = _chat(rng, vocab)
            chat_ids.extend(ids)
            chat_mask.extend(mask)
        np.asarray(chat_ids, dtype="<u2").tofile(os.path.join(out_dir, f"chat-{split}.u16"))
        np.asarray(chat_mask, dtype="u1").tofile(os.path.join(out_dir, f"chat-{split}.mask.u8"))
    names = SPECIAL + [f"w{i}" for i in range(len(SPECIAL), vocab)]
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
            for i, t in enumerate(SPECIAL)
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "WhitespaceSplit"},
        "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": {t: i for i, t in enumerate(names)}, "unk_token": "w5"},
    }
    files = {
        "tokenizer.json": tokenizer,
        "tokenizer_config.json": {"bos_token": SPECIAL[BOS], "eos_token": SPECIAL[EOS], "model_max_length": 2048},
        "meta.json": {"vocab_size": vocab, "bos": BOS, "eos": EOS, "toy": True},
        "sources.json": [{"name": "toy", "license": "generated"}],
    }
    for name, obj in files.items():
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "heldout-docs.jsonl"), "w", encoding="utf-8") as f:
        for doc in docs["heldout"][:20]:
            f.write(json.dumps({"source": "toy", "text": " ".join(names[t] for t in doc[1:-1])}) + "\n")
