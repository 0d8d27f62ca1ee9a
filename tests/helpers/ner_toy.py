"""A small synthetic NER set over the tiny BERT's vocabulary (tests/helpers/tiny.py).

Entities are words of fixed lists: people (``PER``) and places (``LOC``, sometimes two words,
``north city``, and sometimes a hyphenated word such as ``sea-port`` that the tokenizer cuts into
three sub-tokens); everything else is filler tagged ``O``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

PEOPLE = "king mother father boy girl man".split()
PLACES = "city town river mountain island sea-port farm".split()
FILLER = "the a day new about and it was very went to saw with said".split()


def ner_rows(n: int = 200, seed: int = 0) -> list[dict]:
    """Rows ``{"tokens": [...], "tags": [...]}``: 3-8 filler words with one or two entities."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        words = [str(w) for w in rng.choice(FILLER, size=rng.integers(3, 8))]
        tags = ["O"] * len(words)
        for _ in range(rng.integers(1, 3)):
            at = int(rng.integers(0, len(words) + 1))
            if rng.random() < 0.5:
                piece, piece_tags = [str(rng.choice(PEOPLE))], ["B-PER"]
            elif rng.random() < 0.3:
                piece, piece_tags = ["north", str(rng.choice(PLACES))], ["B-LOC", "I-LOC"]
            else:
                piece, piece_tags = [str(rng.choice(PLACES))], ["B-LOC"]
            words[at:at] = piece
            tags[at:at] = piece_tags
        rows.append({"tokens": words, "tags": tags})
    return rows


def write_conll(path: Path, rows: list[dict]) -> Path:
    lines = []
    for r in rows:
        lines += [f"{w}\t{t}" for w, t in zip(r["tokens"], r["tags"])] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path
