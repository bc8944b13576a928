"""Checks of the built dsa-demo data: the tokenizer against DeepSeek's chat fixtures, and the encoded files.

- vocab size 8,192; ids 0..6 are DeepSeek's special strings; BOS/EOS per tokenizer_config.json are ids 0/1;
- every prompt of the DeepSeek-V3.2 encoder fixture (fixtures/chat/deepseek-v32-encoding.json) and every
  parse-case completion round-trips exactly (encode, then decode with special tokens kept), and each special
  string in a prompt becomes its single id;
- chat_format.render matches the encoder's multi-turn chat prompt (case system_multi_turn_chat);
- train/heldout .u16 files: ids < vocab, BOS/EOS counts equal the document counts of meta.json;
- chat files: mask length equals token count, masks are 0/1, every EOS is trained and every `</think>` is not.

Usage: python3 check_tokenizer.py DATA_DIR CHAT_FIXTURE_JSON   (exit 1 with a message on the first failure)
"""

from __future__ import annotations

import json
import sys
from array import array
from pathlib import Path

from chat_format import ASSISTANT, BOS, EOS, PAD, THINK_END, THINK_START, USER, render

SPECIAL_IDS = {BOS: 0, EOS: 1, PAD: 2, USER: 3, ASSISTANT: 4, THINK_START: 5, THINK_END: 6}


def fixture_texts(fixture: dict) -> list[tuple[str, str]]:
    """(name, text) for every encode-case prompt and parse-case completion of the chat fixture."""
    texts = [(c["name"], c["prompt"]) for c in fixture["encode_cases"]]
    texts += [(f"parse:{i}", c["text"]) for i, c in enumerate(fixture["parse_cases"])]
    return texts


def check_tokenizer(data: Path, fixture: dict) -> list[str]:
    """Tokenizer checks; returns a list of human-readable results (raises AssertionError on failure)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(data / "tokenizer.json"))
    config = json.loads((data / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert tok.get_vocab_size(with_added_tokens=True) == 8192, tok.get_vocab_size(with_added_tokens=True)
    for text, want in SPECIAL_IDS.items():
        assert tok.token_to_id(text) == want, (text, tok.token_to_id(text))
    assert tok.token_to_id(config["bos_token"]["content"]) == 0 and tok.token_to_id(config["eos_token"]["content"]) == 1
    results = []
    for name, text in fixture_texts(fixture):
        ids = tok.encode(text, add_special_tokens=False).ids
        back = tok.decode(ids, skip_special_tokens=False)
        assert back == text, f"{name}: round trip differs"
        for special, sid in SPECIAL_IDS.items():
            assert ids.count(sid) == text.count(special), f"{name}: {special} not one id per occurrence"
        results.append(f"{name}: {len(text)} chars -> {len(ids)} tokens, round trip ok")
    case = next(c for c in fixture["encode_cases"] if c["name"] == "system_multi_turn_chat")
    msgs = case["messages"]
    rendered = render(msgs[0]["content"], [(msgs[1]["content"], msgs[2]["content"])])
    assert rendered + USER + msgs[3]["content"] + ASSISTANT + THINK_END == case["prompt"], "multi-turn render differs"
    results.append("chat_format.render matches system_multi_turn_chat")
    return results


def read_u16(path: Path) -> array:
    ids = array("H")
    ids.frombytes(path.read_bytes())
    if sys.byteorder != "little":
        ids.byteswap()
    return ids


def check_files(data: Path) -> list[str]:
    """Consistency checks of the encoded files against meta.json."""
    meta = json.loads((data / "meta.json").read_text())
    vocab = meta["vocab_size"]
    results = []
    for split in ("train", "heldout"):
        ids = read_u16(data / f"{split}.u16")
        docs = meta["files"][f"{split}.u16"]["documents"]
        assert len(ids) == meta["files"][f"{split}.u16"]["tokens"]
        assert max(ids) < vocab
        assert ids[0] == 0 and ids[-1] == 1
        assert ids.count(0) == docs and ids.count(1) == docs, (split, ids.count(0), ids.count(1), docs)
        results.append(f"{split}.u16: {len(ids)} tokens, {docs} documents as BOS doc EOS")
    for split in ("train", "heldout"):
        ids = read_u16(data / f"chat-{split}.u16")
        mask = (data / f"chat-{split}.mask.u8").read_bytes()
        assert len(mask) == len(ids), (len(mask), len(ids))
        assert set(mask) <= {0, 1}
        assert max(ids) < vocab
        eos_trained = all(mask[i] == 1 for i, t in enumerate(ids) if t == 1)
        think_end_untrained = all(mask[i] == 0 for i, t in enumerate(ids) if t == 6)
        assert eos_trained and think_end_untrained
        assert ids.count(0) == meta["files"][f"chat-{split}.u16"]["conversations"]
        results.append(f"chat-{split}: {len(ids)} tokens, {sum(mask)} trained, mask consistent")
    return results


def main(data: Path, fixture_path: Path) -> None:
    fixture = json.loads(fixture_path.read_text(encoding="utf-8"))
    for line in check_tokenizer(data, fixture) + check_files(data):
        print(line)
    print("all checks passed")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
