"""Text cleaning for the demo corpus (shared/docs/demo-model.md §1.2): HTML and reST to paragraphs, the
paragraph quality filter, the English filter, and Brown-corpus detokenization. Standard library only, so the
unit tests run anywhere.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

MIN_WORDS = 8
"""A kept paragraph has at least this many whitespace-separated words."""
MIN_LETTER_SHARE = 0.85
"""...and at least this share of its characters are letters or spaces."""
MIN_ENGLISH_SHARE = 0.20
"""A document is English when at least this share of its words are English stop words."""

# The most frequent English function words. English prose runs at 40-50% of words from this set, English
# reference docs at 25-35%; French, German, Japanese, Korean, Spanish, Portuguese pages sit far below 20%.
ENGLISH_STOP_WORDS = frozenset(
    """a about above after again all also an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her
    here hers him his how i if in into is it its itself just may me might more most must my no nor not now of
    off on once only or other our out over own same she should so some such than that the their them then
    there these they this those through to too under until up very was we were what when where which while
    who whom why will with would you your""".split()
)

_WORD_RE = re.compile(r"[A-Za-z']+")
_SPACE_RE = re.compile(r"\s+")


def normalize_space(text: str) -> str:
    """Collapse every run of whitespace (including newlines) to one space and trim the ends."""
    return _SPACE_RE.sub(" ", text).strip()


def keep_paragraph(paragraph: str) -> bool:
    """The §1.2 quality filter: at least 8 words, and at least 85% of characters letters or spaces."""
    if len(paragraph.split()) < MIN_WORDS:
        return False
    letters = sum(1 for c in paragraph if c.isalpha() or c == " ")
    return letters >= MIN_LETTER_SHARE * len(paragraph)


def english_share(text: str) -> float:
    """Share of the words of `text` (ASCII letter runs over all whitespace tokens) that are English stop words."""
    tokens = text.split()
    if not tokens:
        return 0.0
    hits = sum(1 for w in _WORD_RE.findall(text.lower()) if w in ENGLISH_STOP_WORDS)
    return hits / len(tokens)


def is_english(text: str) -> bool:
    """The language filter: enough English stop words (drops the fr/de/ja/ko/... pages of multilingual docs)."""
    return english_share(text) >= MIN_ENGLISH_SHARE


def filter_paragraphs(paragraphs: list[str]) -> list[str]:
    """Whitespace-normalized paragraphs that pass keep_paragraph, in order."""
    out = []
    for p in paragraphs:
        p = normalize_space(p)
        if keep_paragraph(p):
            out.append(p)
    return out


# --- HTML -------------------------------------------------------------------------------------------------

_SKIP_TAGS = frozenset({"script", "style", "pre", "nav", "head", "noscript", "svg", "math", "button", "select"})
_BLOCK_TAGS = frozenset(
    {"p", "div", "li", "ul", "ol", "dd", "dt", "dl", "br", "tr", "td", "th", "table", "blockquote", "section",
     "article", "header", "footer", "body", "hr", "caption", "figure", "figcaption", "form", "main", "aside"}
)
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_VOID_TAGS = frozenset({"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "wbr", "source"})


class _BlockParser(HTMLParser):
    """Collects ("h", text) headings and ("p", text) text blocks; drops script/style/pre/nav and similar."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str]] = []
        self._buf: list[str] = []
        self._skip_depth = 0
        self._heading_depth = 0

    def _flush(self) -> None:
        text = normalize_space("".join(self._buf))
        self._buf = []
        if text:
            self.blocks.append(("h" if self._heading_depth else "p", text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID_TAGS:
            if tag in _BLOCK_TAGS and not self._skip_depth:
                self._flush()
            return
        if tag in _SKIP_TAGS:
            if not self._skip_depth:
                self._flush()
            self._skip_depth += 1
        elif self._skip_depth:
            return
        elif tag in _HEADING_TAGS:
            self._flush()
            self._heading_depth += 1
        elif tag in _BLOCK_TAGS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif self._skip_depth:
            return
        elif tag in _HEADING_TAGS:
            self._flush()
            self._heading_depth = max(0, self._heading_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self._buf.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def html_blocks(markup: str) -> list[tuple[str, str]]:
    """HTML to an ordered list of ("h", heading) and ("p", paragraph) blocks, whitespace-normalized.

    Inline markup (a, em, code, span...) stays part of its paragraph; pre, script, style, nav and head are
    dropped whole. Headings keep their text with Sphinx's trailing "¶" permalink removed.
    """
    parser = _BlockParser()
    parser.feed(markup)
    parser.close()
    return [(kind, text.rstrip("¶").strip() if kind == "h" else text) for kind, text in parser.blocks]


# --- reStructuredText -------------------------------------------------------------------------------------

_UNDERLINE_RE = re.compile(r"^([=\-~^\"'`#*+_.:<>])\1{2,}\s*$")
_LITERAL_DIRECTIVES = ("code-block", "sourcecode", "code", "doctest", "testcode", "testoutput", "productionlist",
                       "literalinclude", "highlight", "toctree", "image", "figure", "raw", "include", "csv-table",
                       "list-table", "table", "graphviz", "math", "autosummary", "automodule", "autoclass",
                       "only", "index", "moduleauthor", "sectionauthor", "program", "option", "cmdoption",
                       "envvar", "describe", "opcode", "pdbcommand", "2to3fixer", "audit-event", "impl-detail")
_ROLE_RE = re.compile(r":([a-zA-Z0-9_:+.-]+):`([^`]*)`")
_FOOTNOTE_REF_RE = re.compile(r"\s*\[(?:#[\w-]*|\*|\d+)\]_")
_LINK_RE = re.compile(r"`([^`<]*?)\s*<[^`>]*>`_{1,2}")
_BACKTICK_RE = re.compile(r"``([^`]*)``|`([^`]*)`_{0,2}")
_EMPH_RE = re.compile(r"(?<![\w*])\*{1,2}([^*\s][^*]*?)\*{1,2}(?![\w*])")
_SUBST_RE = re.compile(r"\|([^|\s][^|]*)\|")


def rest_inline(text: str) -> str:
    """Strip reST inline markup: roles (`:func:`x`` → x, `~a.b` → b), links, literals, emphasis."""

    def role(m: re.Match[str]) -> str:
        name, inner = m.group(1), m.group(2)
        if name in ("rfc", "pep"):
            return f"{name.upper()} {inner}"
        if "<" in inner and inner.endswith(">"):
            inner = inner[: inner.index("<")].strip()
        if inner.startswith(("~", "!")):
            inner = inner[1:].rsplit(".", 1)[-1]
        return inner

    text = _FOOTNOTE_REF_RE.sub("", text)
    text = _ROLE_RE.sub(role, text)
    text = _LINK_RE.sub(lambda m: m.group(1), text)
    text = _BACKTICK_RE.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), text)
    text = _EMPH_RE.sub(lambda m: m.group(1), text)
    text = _SUBST_RE.sub(lambda m: m.group(1), text)
    return text


def rest_blocks(source: str) -> list[tuple[str, str]]:
    """reST source to ("h", title) and ("p", paragraph) blocks.

    Section titles are the line above (or between) an underline of punctuation. Literal blocks (after a
    paragraph ending in "::") and the bodies of code-like directives are dropped; the bodies of other directives
    (note, warning, function descriptions...) are kept as prose; directive lines, comments and tables are dropped.
    """
    lines = source.splitlines()
    blocks: list[tuple[str, str]] = []
    para: list[str] = []
    skip_indent: int | None = None  # drop lines indented more than this (literal block or directive body)
    literal_next = False

    def flush() -> None:
        nonlocal literal_next
        if para:
            text = normalize_space(" ".join(para))
            if text.endswith("::"):
                literal_next = True
                text = text[:-1] if not text.endswith(" ::") else text[:-3]
            blocks.append(("p", rest_inline(text)))
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if skip_indent is not None:
            if not stripped or indent > skip_indent:
                i += 1
                continue
            skip_indent = None
        if not stripped:
            flush()
            i += 1
            continue
        if literal_next and not para:
            literal_next = False
            if indent > 0 or stripped.startswith(">>>"):
                skip_indent = 0 if indent > 0 else -1
                if skip_indent < 0:  # unindented doctest block: runs until a blank line
                    while i < len(lines) and lines[i].strip():
                        i += 1
                    skip_indent = None
                continue
        if _UNDERLINE_RE.match(stripped):
            if len(para) == 1:
                title = para.pop()
                blocks.append(("h", rest_inline(normalize_space(title))))
            i += 1
            continue
        if stripped.startswith(".."):
            flush()
            m = re.match(r"\.\.\s+(?:[\w:-]+:)?([\w-]+)::", stripped)
            if m is None or m.group(1) in _LITERAL_DIRECTIVES:
                skip_indent = indent  # comment, target, substitution or code-like directive: drop its body
            i += 1
            continue
        field_list = not para and re.match(r":[\w -]+:(\s|$)", stripped) is not None
        if stripped.startswith((">>>", "+--", "+==", "|")) or field_list:
            flush()
            i += 1
            continue
        para.append(stripped)
        i += 1
    flush()
    return [(k, t) for k, t in blocks if t]


# --- Brown corpus -----------------------------------------------------------------------------------------

_BROWN_TAG_RE = re.compile(r"(\S+)/[^\s/]+")


def brown_detokenize(tagged: str) -> str:
    """One POS-tagged Brown sentence or paragraph to plain text: `The/at jury/nn ,/, ``/`` x/nn ''/''` → `The jury, "x"`."""
    words = _BROWN_TAG_RE.sub(lambda m: m.group(1), tagged)
    text = normalize_space(words)
    text = text.replace("``", '"').replace("''", '"').replace(";;", ";")
    text = re.sub(r" ([,.;:?!)])", r"\1", text)
    text = re.sub(r"\( ", "(", text)
    text = re.sub(r'" (.*?) "', r'"\1"', text)
    text = html.unescape(text)
    return text
