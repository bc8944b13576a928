#!/usr/bin/env python3
"""The trainer's greedy chat answers on an exported model, in f32 on the weights as shipped (fp8 dequantized):
the reference that tests/demo-model.test.ts holds the engine's `dsa generate --chat` tokens to.

  PYTHONPATH=/work/.pydeps /usr/bin/python3 tools/demo-model/greedy_golden.py --model packages/demo-model \
      --out fixtures/demo-model/greedy-chat.json      # needs the `tokenizers` package for the prompts
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
sys.path.insert(0, HERE)
from dsa_train.evaluate import greedy  # noqa: E402
from dsa_train.export import write_json  # noqa: E402
from dsa_train.load import load_checkpoint  # noqa: E402
from train_demo import CHAT_PROMPTS, chat_format  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    from tokenizers import Tokenizer

    torch.set_num_threads(args.threads)
    tokenizer = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    model = load_checkpoint(args.model).eval()
    answers = []
    for question in CHAT_PROMPTS:
        prompt = tokenizer.encode(chat_format(question), add_special_tokens=False).ids
        ids = greedy(model, prompt, args.tokens, stop=model.args.eos_token_id, mode="sparse")
        answers.append({"question": question, "prompt_ids": prompt, "answer_ids": ids, "text": tokenizer.decode(ids)})
        print(json.dumps(answers[-1]), flush=True)
    write_json(args.out, {"producer": "tools/demo-model/greedy_golden.py (f32, sparse, top-k of the config)", "answers": answers})


if __name__ == "__main__":
    main()
