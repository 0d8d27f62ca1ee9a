"""CoNLL-style token files: one ``token TAB tag`` per line, a blank line between sentences.

A file becomes a table with one row per sentence: ``tokens`` (the words) and ``tags``
(their tags), so token classification reads it like a JSON Lines file whose rows hold a
word list and a tag list. Lines starting with ``-DOCSTART-`` are skipped. A line with
another number of fields than two is an error naming the file and the line.

Example::

    df = read_conll("ner.conll")
    df.loc[0, "tokens"], df.loc[0, "tags"]     # (['Empire', 'State'], ['B-facility', 'I-facility'])
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd

from ..errors import DataError
from .rows import LINES_ATTR

CONLL_SUFFIXES = (".conll", ".conllu", ".bio")
TOKENS, TAGS = "tokens", "tags"


def parse_conll(text: str, source: str) -> pd.DataFrame:
    """Sentences of a CoNLL text as a table (``tokens``, ``tags``); the first line of each sentence is kept
    so that messages about a row can name it."""
    rows: list[tuple[list[str], list[str]]] = []
    lines: list[int] = []
    words: list[str] = []
    tags: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            if words:
                rows.append((words, tags))
                words, tags = [], []
            continue
        if line.startswith("-DOCSTART-"):
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise DataError(f"{source}:{number}: expected 'token<TAB>tag', got {line[:80]!r} "
                            f"({len(fields)} tab-separated field{'s' if len(fields) != 1 else ''}); each line holds "
                            "one token and its tag separated by one tab, and a blank line ends a sentence")
        if not words:
            lines.append(number)
        words.append(fields[0].strip())
        tags.append(fields[1].strip())
    if words:
        rows.append((words, tags))
    if not rows:
        raise DataError(f"{source} holds no sentences (expected 'token<TAB>tag' lines)")
    df = pd.DataFrame({TOKENS: [r[0] for r in rows], TAGS: [r[1] for r in rows]})
    df.attrs[LINES_ATTR] = lines
    return df


def read_conll(path, encoding: Optional[str] = None) -> pd.DataFrame:
    """Read a CoNLL file (UTF-8 unless ``encoding`` says otherwise)."""
    path = Path(path)
    try:
        text = path.read_text(encoding=encoding or "utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start}); re-save it as UTF-8") from None
    except OSError as e:
        raise DataError(f"{path} could not be read ({e.strerror})") from None
    return parse_conll(text, str(path))
