"""Drop (or fill) the rows a model cannot learn from, and count why each went.

Rules, in order: a missing input (None, NaN, empty or blank text) -> "missing text" /
"missing image"; a missing class label -> "missing label"; for regression, a missing
target is dropped ("missing target") or filled with the mean/median, while a
non-numeric or infinite target is an error; finally an exact duplicate text (after
the first) -> "duplicate text". Class labels come out as stripped strings, so 0/1 and
"0"/"1" name the same classes.

Example::

    df, report = clean_table(df, "text", "label", regression=False, clean=CleanSection(), source="train.csv")
    report.summary()   # 'train.csv: 1000 rows read, 990 kept (dropped 4 missing text, 6 duplicate text)'

The DataFrame index keeps the original 0-based row numbers, so later messages can name rows.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from ..recipe.schema import CleanSection
from .bundle import CleaningReport
from .modalities import MODALITIES
from .tables import LINES_ATTR, row_label

FLOAT32_MAX = float(np.finfo(np.float32).max)


def _missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    return value is pd.NA or value is pd.NaT


def _show(value) -> str:
    """A value as a message shows it (numpy scalars as plain Python values)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def label_string(value) -> str:
    """The class name for a label value: integers (even 1.0) print without decimals."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    return str(value).strip()


def _where(df: pd.DataFrame, index, source: str, lines: Optional[Sequence[int]]) -> str:
    return row_label(int(index), source, lines) if isinstance(index, (int, np.integer)) else f"row {index} of {source}"


def numeric_targets(df: pd.DataFrame, label_column: str, clean: CleanSection, source: str,
                    lines, report: CleaningReport) -> pd.DataFrame:
    """Targets as float64: missing ones dropped or filled (``clean.missing_target``), others must be finite numbers."""
    raw = df[label_column]
    missing = raw.map(_missing).astype(bool)
    values = pd.to_numeric(raw.where(~missing), errors="coerce")
    bad = values.isna() & ~missing
    if bad.any():
        i = bad.idxmax()
        raise DataError(f"{_where(df, i, source, lines)}: target {_show(raw[i])} in column "
                        f"{label_column!r} is not a number; regression targets must be numeric")
    values = values.astype(np.float64)
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        i = df.index[int(np.argmax(infinite))]
        raise DataError(f"{_where(df, i, source, lines)}: target in column {label_column!r} is "
                        f"{_show(raw[i])}; fix or remove that row")
    huge = np.abs(values.to_numpy()) > FLOAT32_MAX  # training and metrics use float32
    if huge.any():
        i = df.index[int(np.argmax(huge))]
        raise DataError(f"{_where(df, i, source, lines)}: target in column {label_column!r} is "
                        f"{_show(raw[i])}, too large to train on (beyond ±{FLOAT32_MAX:.3g}); rescale the "
                        "targets (e.g. to other units or a logarithm) or fix that row")
    df = df.copy()
    df[label_column] = values
    n_missing = int(values.isna().sum())
    if n_missing:
        if clean.missing_target == "drop":
            df = df[~values.isna()]
            report.dropped["missing target"] = n_missing
        else:
            fill = values.mean() if clean.missing_target == "mean" else values.median()
            if not np.isfinite(fill):
                raise DataError(f"{source}: every target in column {label_column!r} is missing")
            df[label_column] = values.fillna(fill)
            report.filled[f"missing target ({clean.missing_target})"] = n_missing
    return df


def drop_rows(df: pd.DataFrame, mask: pd.Series, reason: str, column: str, clean: CleanSection, source: str,
              lines, report: CleaningReport) -> pd.DataFrame:
    """``df`` without the rows in ``mask`` (counted under ``reason``), or an error when drops are off."""
    n = int(mask.sum())
    if n and not clean.drop_missing:
        i = mask.idxmax()
        raise DataError(f"{_where(df, i, source, lines)} has no {reason.split()[-1]} in column "
                        f"{column!r} ({n} rows like this); fill them in or set data.clean.drop_missing: true")
    if n:
        report.dropped[reason] = report.dropped.get(reason, 0) + n
    return df[~mask]


def label_targets(df: pd.DataFrame, label_column: str, clean: CleanSection, source: str, lines,
                  report: CleaningReport) -> pd.DataFrame:
    """Class labels as stripped strings; rows without one dropped ("missing label")."""
    df = drop_rows(df, df[label_column].map(_missing).astype(bool), "missing label", label_column, clean, source,
                   lines, report)
    df = df.copy()
    df[label_column] = df[label_column].map(label_string).astype(object)
    return df


def clean_inputs(df: pd.DataFrame, input_column, clean: CleanSection, source: str, modality: str,
                 report: CleaningReport) -> pd.DataFrame:
    """Drop rows with a missing input ("missing text" / "missing image").

    ``input_column`` may be the two columns of a text pair: a row missing either text is dropped.
    """
    lines = df.attrs.get(LINES_ATTR)
    for column in ([input_column] if isinstance(input_column, str) else input_column):
        df = drop_rows(df, df[column].map(_missing).astype(bool), f"missing {modality}", column, clean,
                       source, lines, report)
    df.attrs[LINES_ATTR] = lines
    return df


def drop_duplicate_texts(df: pd.DataFrame, input_column, clean: CleanSection, report: CleaningReport
                         ) -> pd.DataFrame:
    """Drop exact duplicate texts after the first; for a text pair, rows whose two texts both repeat a row."""
    lines = df.attrs.get(LINES_ATTR)
    if clean.drop_duplicates:
        columns = [input_column] if isinstance(input_column, str) else list(input_column)
        dup = df[columns].astype(str).duplicated(keep="first")
        if dup.any():
            report.dropped["duplicate text"] = int(dup.sum())
            df = df[~dup]
    df.attrs[LINES_ATTR] = lines
    return df


def clean_table(df: pd.DataFrame, input_column: str, label_column: Optional[str], regression: bool,
                clean: CleanSection, source: str, *, modality: str = "text") -> tuple[pd.DataFrame, CleaningReport]:
    """Cleaned copy of ``df`` and a report of what was dropped or filled (see the module docstring).

    ``label_column`` None cleans the input only (for unlabelled data). With
    ``clean.drop_missing`` off, a missing input or label is an error instead of a drop.
    (The data loader does the same steps with the task's own target cleaning.)
    """
    lines = df.attrs.get(LINES_ATTR)
    report = CleaningReport(source=source, rows_read=len(df))
    df = clean_inputs(df, input_column, clean, source, modality, report)
    if label_column is not None:
        clean_targets = numeric_targets if regression else label_targets
        df = clean_targets(df, label_column, clean, source, lines, report)
    if MODALITIES.get(modality).drops_duplicates:
        df = drop_duplicate_texts(df, input_column, clean, report)
    df.attrs[LINES_ATTR] = lines
    return df, report
