"""From a recipe's ``data`` section to a :class:`DataBundle`: read, clean, label, split, subset, decode.

Example::

    bundle = load_data(recipe.data, TASKS.get("text-classification"), seed=recipe.train.seed)
    bundle.sizes()          # {'train': 27470, 'validation': 3434, 'test': 6868}
    bundle.label_names      # ['negative', 'neutral', 'positive']

Fractions for ``validation``/``test`` are fractions of all cleaned train rows: the test
rows are held out first, then the validation rows from what is left, both stratified by
class and seeded by ``seed``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd

from ..errors import DataError
from ..recipe.schema import DataSection
from .bundle import CleaningReport, DataBundle, Split
from .cleaning import clean_inputs, drop_duplicate_texts
from .columns import default_columns, input_columns, missing_column_message
from .modalities import MODALITIES
from .packaged import packaged_classes, resolve_source
from .splits import stratified_split, stratified_subset
from .tables import LINES_ATTR, folder_message, row_label


@dataclass
class _Part:
    """One cleaned source (or a held-out piece of one) before it becomes a Split."""

    df: pd.DataFrame
    source: str
    base_dir: Optional[Path]
    lines: Any
    how: str

    def where(self, index) -> str:
        return row_label(int(index), self.source, self.lines)

    def take(self, positions: np.ndarray, how: str) -> "_Part":
        return _Part(self.df.iloc[positions], self.source, self.base_dir, self.lines, how)


def _read(value, role: str, data: DataSection, task, reports: list[CleaningReport]) -> _Part:
    modality = MODALITIES.get(task.modality)
    if not modality.reads_folders and isinstance(value, (str, Path)) and Path(value).expanduser().is_dir():
        raise DataError(f"data.{role}: {folder_message(Path(value))}")
    if modality.reads_folders and isinstance(value, (str, Path)) and Path(value).expanduser().is_dir():
        df, source, packaged = modality.read_folder(Path(value).expanduser()), str(value), False
    else:
        df, source, packaged = resolve_source(value)
    lines = df.attrs.get(LINES_ATTR)
    input_key, input_col, label_col = default_columns(data, task.modality)
    checked = [(k, c) for k, col in modality.required_columns(data) for c in input_columns(col)]
    checked += [("label_column", label_col)] if task.label_column_key else []
    for key, column in checked:
        if column not in df.columns:
            raise DataError(missing_column_message(key, column, df.columns, source))
    report = CleaningReport(source=source, rows_read=len(df))
    df = clean_inputs(df, input_col, data.clean, source, task.modality, report)
    df = task.clean_targets(df, label_col, data, source, lines, report)
    if modality.drops_duplicates:
        df = drop_duplicate_texts(df, input_col, data.clean, report)
    df.attrs[LINES_ATTR] = lines
    reports.append(report)
    if len(df) == 0:
        raise DataError(f"no rows left in {role} after cleaning: {report.summary()}")
    base_dir = Path(value).expanduser().resolve().parent if isinstance(value, (str, Path)) and not packaged \
        and Path(value).is_file() else None
    return _Part(df, source, base_dir, lines, "all rows" + (" (packaged)" if packaged else ""))


def load_data(data: DataSection, task, seed: int) -> DataBundle:
    """Read, clean, label, split, subset and (for images) decode the data a recipe names for ``task``.

    ``task`` (a :class:`~tuneforge.tasks.Task`) says how targets are cleaned, named, encoded and
    stratified; its modality says how inputs are read.
    """
    reports: list[CleaningReport] = []
    _, input_col, label_col = default_columns(data, task.modality)
    label_col = label_col if task.label_column_key else input_col  # no label column: the task reads the inputs
    parts: dict[str, Optional[_Part]] = {"train": _read(data.train, "train", data, task, reports)}
    for role in ("validation", "test"):
        value = getattr(data, role)
        if isinstance(value, bool) or isinstance(value, int) and not isinstance(value, float):
            raise DataError(f"data.{role} must be a fraction between 0 and 1, a path or a data set name; got {value!r}")
        parts[role] = None if value is None or isinstance(value, float) else _read(value, role, data, task, reports)

    names = task.label_names(parts["train"].df[label_col], data, packaged_classes(data.train))

    def targets(part: _Part) -> np.ndarray:
        return task.encode_targets(part.df[label_col], names, bool(data.labels), part.where)

    train_targets = targets(parts["train"])
    for role in ("validation", "test"):
        if parts[role] is not None:
            targets(parts[role])  # fail early on an unknown label

    # hold out test first, then validation, as fractions of all cleaned train rows
    n_all = len(parts["train"].df)
    keep = np.arange(n_all)
    for role in ("test", "validation"):
        fraction = getattr(data, role)
        if isinstance(fraction, float):
            strat = task.stratify_key(train_targets[keep])
            what = f"a {role} split (data.{role}: {fraction}) from {parts['train'].source}"
            kept, held = stratified_split(strat, len(keep), int(round(fraction * n_all)), seed,
                                          label_names=names, what=what)
            how = f"{fraction:.0%} of train held out{' (stratified)' if strat is not None else ''}, seed {seed}"
            parts[role] = parts["train"].take(keep[held], how)
            keep = keep[kept]
    if len(keep) < n_all:
        parts["train"] = parts["train"].take(keep, f"train rows left after hold-out ({len(keep)} of {n_all})")

    limits = {"train": data.max_train_samples, "validation": data.max_eval_samples, "test": data.max_eval_samples}
    for role, limit in limits.items():
        part = parts[role]
        if part is not None and limit is not None and limit < len(part.df):
            strat = task.stratify_key(targets(part))
            part = part.take(stratified_subset(strat, len(part.df), limit, seed), part.how)
            part.how += f"; subset of {limit} ({'stratified' if strat is not None else 'random'}, seed {seed})"
            parts[role] = part

    present = {role: p for role, p in parts.items() if p is not None}
    modality = MODALITIES.get(task.modality)
    inputs = modality.inputs(present, input_col, data)
    splits = {role: Split(inputs[role], targets(p)) for role, p in present.items()}

    description = {role: {"source": p.source, "rows": len(p.df), "how": p.how} for role, p in present.items()}
    description["columns"] = {"input": input_col, "label": label_col}
    description.update(modality.describe(inputs))
    return DataBundle(modality=task.modality, train=splits["train"], validation=splits.get("validation"),
                      test=splits.get("test"), label_names=names, cleaning=reports, description=description)
