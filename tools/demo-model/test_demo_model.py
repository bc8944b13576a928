"""Unit tests of the dsa-demo data tooling on inline samples: no network, standard library only.

The tokenizer checks need the Python `tokenizers` package and built data (DSA_DEMO_DATA, default
<repo>/.demo/data); without them they are skipped with the reason. Run:
  python3 -m unittest discover -s tools/demo-model -p 'test_*.py' -v
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import unittest
from pathlib import Path

from chat_format import ASSISTANT, BOS, EOS, THINK_END, USER, render, render_segments
from chat_pairs import section_pairs, shorten, wordnet_pairs
from clean import (brown_detokenize, english_share, html_blocks, is_english, keep_paragraph, rest_blocks,
                   rest_inline)
from corpus import clean_document, is_heldout
from extractors import Document

REPO = Path(__file__).resolve().parents[2]
CHAT_FIXTURE = REPO / "fixtures" / "chat" / "deepseek-v32-encoding.json"
DATA = Path(os.environ.get("DSA_DEMO_DATA", REPO / ".demo" / "data"))


class ParagraphFilter(unittest.TestCase):
    def test_word_count(self) -> None:
        self.assertTrue(keep_paragraph("This sentence has exactly eight words in it."))
        self.assertFalse(keep_paragraph("This sentence has only seven words here."))

    def test_letter_share(self) -> None:
        self.assertFalse(keep_paragraph("x = foo(bar[1], baz[2]) + qux(3) * 4 / 5 - 6 % 7 ;"))
        self.assertFalse(keep_paragraph("Population: 67,364,357 (2017 est.) 0-14 years: 18.53% 15-24 years: 11.87%"))
        self.assertTrue(keep_paragraph("The capital of France is Paris, which lies on the river Seine."))

    def test_english(self) -> None:
        en = "The module provides a way of using operating system dependent functionality in your programs."
        fr = "Le module fournit une manière portable d'utiliser les fonctionnalités dépendantes du système."
        de = "Dieses Modul stellt eine portable Methode zur Verfügung, um Funktionen des Betriebssystems zu nutzen."
        self.assertTrue(is_english(en))
        self.assertFalse(is_english(fr))
        self.assertFalse(is_english(de))
        self.assertAlmostEqual(english_share("the cat and the dog"), 0.6)


class Markup(unittest.TestCase):
    def test_html(self) -> None:
        page = ("<html><head><title>T</title><script>var x;</script></head><body><nav>Home | Next</nav>"
                "<h2>Connections<a class='headerlink'>¶</a></h2><p>Open a <code>socket</code> and\n wait."
                "<pre>s = socket()</pre>Then close it.</p><ul><li>one</li><li>two &amp; three</li></ul></body>")
        self.assertEqual(html_blocks(page), [("h", "Connections"), ("p", "Open a socket and wait."),
                                             ("p", "Then close it."), ("p", "one"), ("p", "two & three")])

    def test_rest(self) -> None:
        src = ("Title here\n==========\n\nUse :func:`os.path.join` to join\npaths, see :pep:`8`::\n\n"
               "    print('code')\n\nAfter the *literal* block.\n\n.. code-block:: python\n\n   x = 1\n\n"
               ".. note::\n\n   A note stays.\n")
        self.assertEqual(rest_blocks(src), [("h", "Title here"), ("p", "Use os.path.join to join paths, see PEP 8:"),
                                            ("p", "After the literal block."), ("p", "A note stays.")])
        self.assertEqual(rest_inline("see `the docs <https://x.org>`_ and ``len()``"), "see the docs and len()")

    def test_brown(self) -> None:
        tagged = "The/at jury/nn said/vbd ,/, ``/`` it/pps deserves/vbz praise/nn ''/'' ./."
        self.assertEqual(brown_detokenize(tagged), 'The jury said, "it deserves praise".')


class CorpusSplit(unittest.TestCase):
    def test_dedup_across_documents(self) -> None:
        para = "A paragraph that is long enough to pass the filter of eight words."
        seen: set[bytes] = set()
        first = clean_document(Document("a", [("h", "Intro"), ("p", para), ("p", "too short")]), seen)
        assert first is not None
        self.assertEqual(first["text"], para)
        self.assertEqual(first["sections"], [["Intro", para]])
        self.assertIsNone(clean_document(Document("b", [("p", para)]), seen))

    def test_heldout_is_deterministic_and_about_one_percent(self) -> None:
        ids = [f"doc-{i}" for i in range(20000)]
        held = [i for i in ids if is_heldout("src", i)]
        self.assertEqual(held, [i for i in ids if is_heldout("src", i)])
        self.assertTrue(150 <= len(held) <= 250, len(held))


class ChatRendering(unittest.TestCase):
    def test_matches_deepseek_v32_encoder(self) -> None:
        fixture = json.loads(CHAT_FIXTURE.read_text(encoding="utf-8"))
        cases = {c["name"]: c for c in fixture["encode_cases"]}
        multi = cases["system_multi_turn_chat"]
        msgs = multi["messages"]
        rendered = render(msgs[0]["content"], [(msgs[1]["content"], msgs[2]["content"])])
        self.assertEqual(rendered + USER + msgs[3]["content"] + ASSISTANT + THINK_END, multi["prompt"])
        single = cases["user_single_chat"]
        self.assertTrue(render("", [(single["messages"][0]["content"], "4")]).startswith(single["prompt"]))

    def test_mask_covers_answer_and_eos(self) -> None:
        segs = render_segments("Be brief.", [("Hi", "Hello."), ("Bye", "Goodbye.")])
        self.assertEqual([t for t, trained in segs if trained], ["Hello.", EOS, "Goodbye.", EOS])
        self.assertEqual("".join(t for t, _ in segs),
                         f"{BOS}Be brief.{USER}Hi{ASSISTANT}{THINK_END}Hello.{EOS}{USER}Bye{ASSISTANT}{THINK_END}"
                         f"Goodbye.{EOS}")


class ChatPairs(unittest.TestCase):
    def test_wordnet_template(self) -> None:
        entry = {"words": ["dog", "domestic dog"], "pos": "noun", "definition": "a member of the genus Canis",
                 "examples": ["the dog barked all night"]}
        pairs = []
        for seed in range(20):
            pairs.extend(wordnet_pairs(entry, random.Random(seed)))
        self.assertIn("Dog (noun) means a member of the genus Canis. For example: \"the dog barked all night\".",
                      [a for _, a in pairs])

    def test_section_titles(self) -> None:
        rng = random.Random(0)
        self.assertEqual(list(section_pairs("python", "Description", "Some paragraph.", rng)), [])
        self.assertEqual(list(section_pairs("node", "setInterval(callback[, delay])", "Schedules a call.", rng)), [])
        self.assertEqual(list(section_pairs("node", "Timers", "callback <Function> The function to call.", rng)), [])
        [(q, a)] = list(section_pairs("python", "json --- JSON encoder and decoder", "JSON is a format.", rng))
        self.assertIn("json", q)
        self.assertIn("Python", q)
        self.assertEqual(a, "JSON is a format.")

    def test_shorten(self) -> None:
        text = "One two three. " * 100
        short = shorten(text, 20)
        self.assertTrue(short.endswith("."))
        self.assertLessEqual(len(short.split()), 20)


@unittest.skipUnless(importlib.util.find_spec("tokenizers"), "the Python tokenizers package is not installed")
@unittest.skipUnless((DATA / "tokenizer.json").exists(), f"no built data in {DATA} (run build_corpus.sh)")
class BuiltData(unittest.TestCase):
    def test_tokenizer_and_files(self) -> None:
        from check_tokenizer import check_files, check_tokenizer

        fixture = json.loads(CHAT_FIXTURE.read_text(encoding="utf-8"))
        self.assertGreater(len(check_tokenizer(DATA, fixture)), 20)
        self.assertEqual(len(check_files(DATA)), 4)


if __name__ == "__main__":
    unittest.main()
