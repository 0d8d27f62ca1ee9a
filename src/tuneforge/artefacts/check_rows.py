"""The rows a finished run's exports are checked on: the first rows of its test split, else validation.

``tuneforge export RUN --sentence-transformers`` and ``tuneforge export RUN --check`` both run an
exported artefact on real examples of the run's own data and compare it with tuneforge. The rows are
the first ones of the test split, whose outputs the run recorded in ``test_outputs.npz`` (so a
check can compare with what the run itself computed, not only with the saved model reloaded), or of
the validation split when the run has no test split.

Example::

    rows = first_rows(recipe, task, model, 8)
    rows.split_name, len(rows.texts), rows.batch["input_ids"].shape
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ..data import load_data
from ..errors import TuneforgeError

CHECK_ROWS = 8   # enough to catch a wrong pooling or a changed weight; few enough to stay fast on a CPU


@dataclass
class CheckRows:
    """``n`` encoded rows of one split: ``batch`` (as the model reads it), ``inputs`` (the raw inputs: texts,
    text pairs, image paths...), ``encoded`` (the whole split, encoded) and ``rows`` (their indices)."""

    split_name: str
    inputs: list
    batch: dict
    encoded: Any
    rows: np.ndarray


def check_split(recipe, task, what: str = "tuneforge export") -> tuple[str, Any]:
    """``(name, split)``: the run's test split, else its validation split, read again from the recipe."""
    try:
        bundle = load_data(recipe.data, task, recipe.train.seed)
    except TuneforgeError as e:
        raise TuneforgeError(f"{what}: the run's data cannot be read again to check on ({e})") from None
    found: Optional[tuple[str, Any]] = next(((name, s) for name, s in (("test", bundle.test),
                                                                        ("validation", bundle.validation))
                                             if s is not None and len(s)), None)
    if found is None:
        raise TuneforgeError(f"{what}: the run has no test or validation rows to check on")
    return found


def first_rows(recipe, task, model, n: int = CHECK_ROWS, what: str = "tuneforge export") -> CheckRows:
    """The first ``n`` rows of the run's test split (else validation), encoded for ``model``."""
    name, split = check_split(recipe, task, what)
    encoded = task.encode_split(split, model, recipe.data, "test", recipe.train.seed)
    rows = np.arange(min(n, len(split)))
    return CheckRows(name, [split.inputs[int(i)] for i in rows], encoded.batch(rows), encoded, rows)
