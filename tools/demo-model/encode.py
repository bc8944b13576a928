"""Encode the cleaned corpus and the chat conversations into the training files of dsa-demo.

Writes to OUT_DIR (normally /work/main/.demo/data):
  tokenizer.json, tokenizer_config.json   copied from the trained tokenizer
  train.u16, heldout.u16                  little-endian uint16 ids; every document as BOS doc EOS (ids 0, 1),
                                          documents shuffled (fixed seed) and concatenated
  chat-{train,heldout}.u16                conversations rendered by chat_format (DeepSeek-V3.2 chat mode),
                                          concatenated back to back
  chat-{train,heldout}.mask.u8            one byte per chat token: 1 where the token is trained (assistant
                                          answer and its EOS), else 0
  heldout-docs.jsonl                      {"source", "text"} per held-out document, for perplexity evaluation
  meta.json                               token counts per file and per source, vocab, special ids, bytes/token
  sources.json                            sources.partial.json plus token counts per source

Usage: python3 encode.py SCRATCH_DIR OUT_DIR
"""

from __future__ import annotations

import json
import random
import shutil
import sys
from array import array
from pathlib import Path

from chat_format import BOS, EOS, render, render_segments

SEED = 20261205
BATCH = 512
"""Texts per encode_batch call."""


def write_u16(path: Path, ids: array) -> None:
    """Write ids as little-endian uint16 (array('H') is native-endian; swap on big-endian hosts)."""
    out = array("H", ids)
    if sys.byteorder != "little":
        out.byteswap()
    path.write_bytes(out.tobytes())


def encode_texts(tokenizer, texts: list[str]) -> list[list[int]]:
    """Ids of each text without added BOS/EOS (the files add them explicitly)."""
    ids: list[list[int]] = []
    for i in range(0, len(texts), BATCH):
        ids.extend(e.ids for e in tokenizer.encode_batch(texts[i : i + BATCH], add_special_tokens=False))
    return ids


def encode_documents(tokenizer, scratch: Path, split: str, bos: int, eos: int, rng: random.Random,
                     heldout_docs: Path | None) -> tuple[array, dict[str, dict[str, int]]]:
    """BOS doc EOS for every document of `split`, shuffled; per-source {documents, bytes, tokens}."""
    docs: list[tuple[str, str]] = []
    for path in sorted((scratch / "corpus").glob(f"*.{split}.jsonl")):
        source = path.name.split(".")[0]
        with path.open(encoding="utf-8") as f:
            docs.extend((source, json.loads(line)["text"]) for line in f)
    rng.shuffle(docs)
    stats: dict[str, dict[str, int]] = {}
    stream = array("H")
    encoded = encode_texts(tokenizer, [text for _, text in docs])
    for (source, text), ids in zip(docs, encoded):
        s = stats.setdefault(source, {"documents": 0, "bytes": 0, "tokens": 0})
        s["documents"] += 1
        s["bytes"] += len(text.encode())
        s["tokens"] += len(ids) + 2
        stream.append(bos)
        stream.extend(ids)
        stream.append(eos)
    if heldout_docs is not None:
        with heldout_docs.open("w", encoding="utf-8") as f:
            for source, text in docs:
                f.write(json.dumps({"source": source, "text": text}, ensure_ascii=False) + "\n")
    return stream, stats


def encode_chat(tokenizer, scratch: Path, split: str, check: int) -> tuple[array, array, dict[str, int]]:
    """Token ids and loss mask of every conversation of scratch/chat/SPLIT.jsonl, back to back.

    Segments are encoded one by one (their boundaries are added tokens, so this equals encoding the whole
    string); the first `check` conversations are also encoded whole and must give the same ids.
    """
    convs = [json.loads(line) for line in (scratch / "chat" / f"{split}.jsonl").open(encoding="utf-8")]
    segments = [render_segments(c["system"], [tuple(t) for t in c["turns"]]) for c in convs]
    flat = [text for segs in segments for text, _ in segs]
    encoded = iter(encode_texts(tokenizer, flat))
    ids, mask = array("H"), array("B")
    stats = {"conversations": len(convs), "pairs": 0, "tokens": 0, "trained_tokens": 0}
    for n, (conv, segs) in enumerate(zip(convs, segments)):
        conv_ids: list[int] = []
        for text, trained in segs:
            seg_ids = next(encoded)
            conv_ids.extend(seg_ids)
            mask.extend([1 if trained else 0] * len(seg_ids))
            stats["trained_tokens"] += len(seg_ids) if trained else 0
        if n < check:
            whole = tokenizer.encode(render(conv["system"], [tuple(t) for t in conv["turns"]]),
                                     add_special_tokens=False).ids
            if whole != conv_ids:
                raise RuntimeError(f"chat {split} conversation {n}: segment-wise ids differ from whole-string ids")
        ids.extend(conv_ids)
        stats["pairs"] += len(conv["turns"])
        stats["tokens"] += len(conv_ids)
    return ids, mask, stats


def main(scratch: Path, out: Path) -> None:
    from tokenizers import Tokenizer

    out.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(scratch / "tokenizer" / name, out / name)
    tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
    bos, eos = tokenizer.token_to_id(BOS), tokenizer.token_to_id(EOS)
    assert (bos, eos) == (0, 1), (bos, eos)
    vocab = tokenizer.get_vocab_size(with_added_tokens=True)
    assert vocab <= 65536, vocab

    rng = random.Random(SEED)
    meta: dict = {"vocab_size": vocab, "dtype": "uint16 little-endian", "special_ids": {}, "files": {},
                  "sources": {}}
    for token in ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>", "<｜User｜>", "<｜Assistant｜>",
                  "<think>", "</think>"):
        meta["special_ids"][token] = tokenizer.token_to_id(token)
    total_bytes = total_tokens = 0
    for split in ("train", "heldout"):
        stream, stats = encode_documents(tokenizer, scratch, split, bos, eos, rng,
                                         out / "heldout-docs.jsonl" if split == "heldout" else None)
        write_u16(out / f"{split}.u16", stream)
        meta["files"][f"{split}.u16"] = {"tokens": len(stream), "documents": sum(s["documents"] for s in stats.values())}
        for source, s in stats.items():
            meta["sources"].setdefault(source, {})[split] = s
            total_bytes += s["bytes"]
            total_tokens += s["tokens"] - 2 * s["documents"]
        print(f"{split}.u16: {len(stream)} tokens", flush=True)
    meta["bytes_per_token"] = round(total_bytes / total_tokens, 4)
    for split in ("train", "heldout"):
        ids, mask, stats = encode_chat(tokenizer, scratch, split, check=300)
        write_u16(out / f"chat-{split}.u16", ids)
        (out / f"chat-{split}.mask.u8").write_bytes(mask.tobytes())
        meta["files"][f"chat-{split}.u16"] = stats
        print(f"chat-{split}.u16: {stats}", flush=True)

    partial = json.loads((scratch / "corpus" / "sources.partial.json").read_text())
    for record in partial:
        s = meta["sources"].get(record["name"], {})
        record["train_tokens"] = s.get("train", {}).get("tokens", 0)
        record["heldout_tokens"] = s.get("heldout", {}).get("tokens", 0)
    (out / "sources.json").write_text(json.dumps(partial, indent=1, ensure_ascii=False) + "\n")
    (out / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    print(f"bytes per token (documents, BOS/EOS excluded): {meta['bytes_per_token']}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
