#!/usr/bin/env python3
"""Writes fixtures/demo-model/heldout.txt, the engine's held-out evaluation text: held-out documents of every source
(encode.py's heldout-docs.jsonl), taken round-robin by source, each cut to 6,000 characters, until ~120 KB.

  python3 tools/demo-model/heldout_text.py .demo/data/heldout-docs.jsonl fixtures/demo-model/heldout.txt
"""
from __future__ import annotations

import json
import sys


def heldout_text(docs: list[dict], budget: int = 120_000, cap: int = 6000) -> str:
    by_source: dict[str, list[str]] = {}
    for doc in docs:
        by_source.setdefault(doc["source"], []).append(doc["text"])
    parts: list[str] = []
    size, i = 0, 0
    while size < budget:
        added = False
        for source in sorted(by_source):
            if i < len(by_source[source]):
                text = by_source[source][i][:cap]
                parts.append(text)
                size += len(text)
                added = True
                if size >= budget:
                    break
        if not added:
            break
        i += 1
    return "\n\n".join(parts) + "\n"


def main() -> None:
    source, out = sys.argv[1:3]
    with open(source, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    with open(out, "w", encoding="utf-8") as f:
        f.write(heldout_text(docs))


if __name__ == "__main__":
    main()
