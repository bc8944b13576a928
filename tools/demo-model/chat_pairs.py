"""Template chat pairs for dsa-demo (shared/docs/demo-model.md §1.3), made from the cleaned corpus.

Pairs come from the structured entries and section titles that corpus.py kept with each document: WordNet
definitions, Factbook backgrounds and capitals, Jargon File and Devil's Dictionary entries, documentation
section titles with their first paragraph, State of the Union passages, plus the hand-written identity pairs of
identity.py. Pairs made from held-out documents (and identity.HELDOUT) form the held-out chat split, so no
held-out text is trained on. Pairs are shuffled and packed 1-3 per conversation (multi-turn), some with a
system prompt. Output: SCRATCH/chat/{train,heldout}.jsonl, one conversation per line:
  {"system": str, "turns": [[question, answer], ...], "sources": [name, ...]}

Usage: python3 chat_pairs.py SCRATCH_DIR
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import identity

SEED = 20261205
MAX_ANSWER_WORDS = 120
"""Long paragraphs are cut at the last sentence end before this many words."""
SYSTEM_PROMPTS = ["", "", "", "", "You are dsa-demo, a helpful assistant.", "You are a helpful assistant.",
                  "Answer briefly."]
"""System texts, drawn uniformly per conversation (mostly none, as in most chats)."""

PRODUCTS = {
    "python": "Python", "postgresql": "PostgreSQL", "sqlite": "SQLite", "perl": "Perl", "erlang": "Erlang",
    "django": "Django", "sphinx": "Sphinx", "flask": "Flask", "node": "Node.js", "cmake": "CMake",
    "httpd": "the Apache HTTP Server", "abs": "Bash scripting", "cfi": "the history of copyright and software",
}
"""Documentation sources whose section titles become questions, with the product named in the question."""

WORDNET_SHARE = 0.35
"""Share of WordNet synsets turned into pairs (all 117K would drown the other sources)."""
GENERIC_TITLES = frozenset(
    """description synopsis exports see also notes note example examples overview introduction data types
    functions options arguments parameters return value returns syntax usage summary contents name compatibility
    bugs author authors history details events methods properties classes types constants class methods
    instance methods attributes reference footnotes warning caution tip module summary""".split("\n")[0].split()
) | {"see also", "data types", "return value", "table of contents", "class methods", "instance methods",
     "module summary"}
"""Section titles that name no topic ("Description", "See also"): no question is made from them."""

Pair = tuple[str, str]


def shorten(text: str, max_words: int = MAX_ANSWER_WORDS) -> str:
    """`text` cut after the last sentence that ends within max_words words (whole text if it is short)."""
    words = text.split()
    if len(words) <= max_words:
        return text
    head = " ".join(words[:max_words])
    cut = max(head.rfind(". "), head.rfind("? "), head.rfind("! "))
    return head[: cut + 1] if cut > len(head) // 3 else head + " ..."


def sentences(text: str) -> list[str]:
    """A naive sentence split at ., ? or ! followed by a space and a capital letter."""
    return [s for s in re.split(r"(?<=[.?!])\s+(?=[A-Z\"])", text) if s]


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def wordnet_pairs(entry: dict, rng: random.Random) -> Iterator[Pair]:
    word = entry["words"][0]
    if not entry["definition"] or rng.random() >= WORDNET_SHARE:
        return
    answer = f"{word[0].upper() + word[1:]} ({entry['pos']}) means {entry['definition']}."
    if entry["examples"]:
        answer += f' For example: "{entry["examples"][0]}".'
    question = rng.choice([f"What does {word} mean?", f"Define {word}.", f'What is the meaning of "{word}"?',
                           f"What does the word {word} mean?", f"Can you define {word}?"])
    yield question, answer
    others = [w for w in entry["words"][1:] if w.lower() != word.lower()]
    if others and rng.random() < 0.3:
        yield (rng.choice([f"Give me a synonym for {word}.", f"What is another word for {word}?"]),
               f"Another word for {word} is {others[0]}.")


def factbook_pairs(entry: dict, rng: random.Random) -> Iterator[Pair]:
    country, capital, background = entry["country"], entry["capital"], entry["background"]
    if background:
        for q in rng.sample([f"Tell me about {country}.", f"What is the history of {country}?",
                             f"Give me some background on {country}."], 2):
            yield q, shorten(background)
    if capital and capital.lower() not in ("none", "no official capital"):
        capital_name = capital.split(";")[0].strip()
        for q in (f"What is the capital of {country}?", f"What's the capital city of {country}?",
                  f"Which city is the capital of {country}?"):
            yield q, f"The capital of {country} is {capital_name}."
        yield f"{capital_name} is the capital of which country?", f"{capital_name} is the capital of {country}."


def devil_pairs(entry: dict, rng: random.Random) -> Iterator[Pair]:
    term = entry["term"]
    q = rng.choice([f"What is {term.lower()} according to the Devil's Dictionary?",
                    f"How does Ambrose Bierce define {term.lower()}?",
                    f"Give me a cynical definition of {term.lower()}."])
    yield q, f"{term}, {entry['pos']} {shorten(entry['definition'])}"


_JARGON_POS_RE = re.compile(r"^((?:n|v|vt|vi|adj|adv|interj|prep|pron|conj|excl|abbrev|pl|obs|esp)\.[, ]*)+")


def jargon_pairs(entry: dict, rng: random.Random) -> Iterator[Pair]:
    definition = _JARGON_POS_RE.sub("", entry["definition"]).strip()
    if len(definition.split()) < 6:
        return
    term = entry["term"]
    q = rng.choice([f"What is {term} in hacker slang?", f"What does {term} mean in the Jargon File?",
                    f"What do hackers mean by {term}?"])
    yield q, f"In hacker slang, {term}: {shorten(definition)}" if rng.random() < 0.5 else shorten(definition)


_PARAM_DOC_RE = re.compile(r"^\S+ <[^>]+>")


def section_pairs(source: str, title: str, paragraph: str, rng: random.Random) -> Iterator[Pair]:
    title = re.sub(r"^[\d.]+\s+", "", title)  # "5.2. Foo" -> "Foo"
    title = title.split(" --- ")[0].split(" — ")[0].rstrip("#").strip(" :.")  # "json --- JSON encoder" -> "json"
    if title.lower() in GENERIC_TITLES or "(" in title or "[" in title:
        return  # no topic, or an API signature such as "setInterval(callback[, delay])"
    if _PARAM_DOC_RE.match(paragraph):
        return  # a parameter line ("callback <Function> The function to call"), not an explanation
    if not (1 <= len(title.split()) <= 10) or sum(c.isalpha() or c == " " for c in title) < 0.7 * len(title):
        return
    product = PRODUCTS[source]
    q = rng.choice([f"What is {title} in {product}?", f"Tell me about {title} in {product}.",
                    f"Explain {title} ({product}).", f"In {product}, what is {title}?"])
    yield q, shorten(paragraph)


def sotu_pairs(entry: dict, text: str, rng: random.Random) -> Iterator[Pair]:
    sents = sentences(text)
    if len(sents) < 6:
        return
    for _ in range(min(5, len(sents) // 20 + 1)):
        start = rng.randrange(0, len(sents) - 3)
        passage = shorten(" ".join(sents[start : start + 3]))
        q = rng.choice([f"Give me a passage from {entry['president']}'s {entry['year']} State of the Union address.",
                        f"Quote from the {entry['year']} State of the Union address by {entry['president']}.",
                        f"What did {entry['president']} say in {entry['year']}?"])
        yield q, passage


def document_pairs(source: str, doc: dict, rng: random.Random) -> Iterator[Pair]:
    """All pairs one cleaned document yields."""
    for entry in doc["entries"]:
        if source == "wordnet":
            yield from wordnet_pairs(entry, rng)
        elif source == "factbook":
            yield from factbook_pairs(entry, rng)
        elif source == "devil":
            yield from devil_pairs(entry, rng)
        elif source == "jargon":
            yield from jargon_pairs(entry, rng)
        elif source == "sotu":
            yield from sotu_pairs(entry, doc["text"], rng)
    if source in PRODUCTS:
        for title, paragraph in doc["sections"]:
            yield from section_pairs(source, title, paragraph, rng)


def pack(pairs: list[tuple[str, Pair]], rng: random.Random) -> Iterator[dict]:
    """Shuffle (source, pair) items and group them 1-3 per conversation, each with a drawn system prompt."""
    rng.shuffle(pairs)
    i = 0
    while i < len(pairs):
        n = rng.choice((1, 2, 2, 3))
        group = pairs[i : i + n]
        i += n
        yield {"system": rng.choice(SYSTEM_PROMPTS), "turns": [list(p) for _, p in group],
               "sources": [s for s, _ in group]}


def build(scratch: Path) -> dict[str, int]:
    """Write scratch/chat/{train,heldout}.jsonl; return the number of pairs per split."""
    rng = random.Random(SEED)
    corpus = scratch / "corpus"
    out = scratch / "chat"
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split, extra in (("train", identity.TRAIN), ("heldout", identity.HELDOUT)):
        pairs: list[tuple[str, Pair]] = []
        for path in sorted(corpus.glob(f"*.{split}.jsonl")):
            source = path.name.split(".")[0]
            with path.open(encoding="utf-8") as f:
                for line in f:
                    pairs.extend((source, p) for p in document_pairs(source, json.loads(line), rng))
        # Identity pairs are few; repeat them so they are seen about as often as a frequent template.
        repeat = 8 if split == "train" else 1
        pairs.extend(("identity", p) for _ in range(repeat) for p in extra)
        with (out / f"{split}.jsonl").open("w", encoding="utf-8") as f:
            for conv in pack(pairs, rng):
                f.write(json.dumps(conv, ensure_ascii=False) + "\n")
        counts[split] = len(pairs)
        by_source: dict[str, int] = {}
        for s, _ in pairs:
            by_source[s] = by_source.get(s, 0) + 1
        print(f"chat {split}: {len(pairs)} pairs {by_source}", flush=True)
    return counts


if __name__ == "__main__":
    build(Path(sys.argv[1]))
