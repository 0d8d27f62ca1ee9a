"""From a recipe's ``data`` section to a :class:`DataBundle`: read, clean, label, split, subset, decode.

Example::

    bundle = load_data(recipe.data, "text", classification=True, seed=recipe.train.seed)
    bundle.sizes()          # {'train': 27470, 'validation': 3434, 'test': 6868}
    bundle.label_names      # ['negative', 'neutral', 'positive']

Fractions for ``validation``/``test`` are fractions of all cleaned train rows: the test
rows are held out first, then the validation rows from what is left, both stratified by
class and seeded by ``seed``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np
import pandas as pd

from ..errors import DataError
from ..recipe.schema import DataSection
from ..registry import did_you_mean
from .bundle import CleaningReport, DataBundle, Split
from .check import check_data  # noqa: F401  (re-exported: load and check live side by side)
from .cleaning import clean_table
from .images import choose_geometry, decode_images, probe_images
from .packaged import packaged_classes, resolve_source
from .splits import stratified_split, stratified_subset
from .tables import LINES_ATTR, folder_message, row_label


def default_columns(data: DataSection, modality: str) -> tuple[str, str]:
    """(input column, label column) with the defaults 'text' / 'image' and 'label'."""
    default_input = "image" if modality == "image" else "text"
    input_key = "image_column" if modality == "image" else "text_column"
    return getattr(data, input_key) or default_input, data.label_column or "label"


def missing_column_message(key: str, column: str, columns, source: str) -> str:
    """'data.label_column: column 'lable' is not in train.csv (columns: ...; did you mean ...)'."""
    names = [str(c) for c in columns]
    hint = did_you_mean(column, names).strip().strip("()")
    return (f"data.{key}: column {column!r} is not in {source} (columns: {', '.join(names)}"
            f"{'; ' + hint if hint else ''})")


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


def _read(value, role: str, data: DataSection, modality: str, classification: bool,
          reports: list[CleaningReport]) -> _Part:
    if modality != "image" and isinstance(value, (str, Path)) and Path(value).expanduser().is_dir():
        raise DataError(f"data.{role}: {folder_message(Path(value))}")
    df, source, packaged = resolve_source(value)
    lines = df.attrs.get(LINES_ATTR)
    input_col, label_col = default_columns(data, modality)
    for key, column in ((f"{modality}_column", input_col), ("label_column", label_col)):
        if column not in df.columns:
            raise DataError(missing_column_message(key, column, df.columns, source))
    df, report = clean_table(df, input_col, label_col, regression=not classification, clean=data.clean,
                             source=source, modality=modality)
    reports.append(report)
    if len(df) == 0:
        raise DataError(f"no rows left in {role} after cleaning: {report.summary()}")
    base_dir = Path(value).expanduser().resolve().parent if isinstance(value, (str, Path)) and not packaged \
        and Path(value).is_file() else None
    return _Part(df, source, base_dir, lines, "all rows" + (" (packaged)" if packaged else ""))


def _label_names(train: _Part, label_col: str, declared: Optional[list[str]], own_order) -> list[str]:
    if declared:
        return [str(x) for x in declared]
    values = sorted(set(train.df[label_col]))
    if own_order and label_col == "label" and set(values) <= set(own_order):
        return list(own_order)  # a packaged data set's own class order (class id = its original label)
    if all(v.lstrip("-").isdigit() for v in values):
        values.sort(key=int)  # "2" before "10"
    return values


def _class_ids(part: _Part, label_col: str, names: list[str], declared: bool) -> np.ndarray:
    mapping = {name: i for i, name in enumerate(names)}
    ids = part.df[label_col].map(mapping)
    unknown = ids.isna()
    if unknown.any():
        i = unknown.idxmax()
        value = part.df.at[i, label_col]
        known = ", ".join(names) if len(names) <= 20 else ", ".join(names[:20]) + ", ..."
        where = "the declared classes (data.labels)" if declared else "the classes seen in train"
        raise DataError(f"{part.where(i)}: label {value!r} is not one of {where}: {known}"
                        f"{did_you_mean(value, names)}; fix the label"
                        f"{' or add it to data.labels' if declared else ' or add examples of it to train'}")
    return ids.to_numpy(dtype=np.int64)


def _image_splits(parts: dict[str, _Part], image_col: str, data: DataSection) -> dict[str, Any]:
    """Decode every split's images at one common size and channel count."""
    root = Path(data.root).expanduser().resolve() if data.root else None
    if root is not None and not root.is_dir():
        raise DataError(f"data.root: {data.root} is not a folder")
    args = {name: (p.df[image_col].tolist(), p.base_dir, root, p.source, [p.where(i) for i in p.df.index])
            for name, p in parts.items()}
    headers = [h for name, a in args.items() for h in probe_images(a[0], a[1], a[2], a[3], row_labels=a[4])]
    channels, size = choose_geometry(headers, data.image_size)
    return {name: decode_images(a[0], size, a[1], a[2], a[3], channels=channels, row_labels=a[4])
            for name, a in args.items()}


def load_data(data: DataSection, modality: Literal["text", "image"], classification: bool, seed: int) -> DataBundle:
    """Read, clean, label, split, subset and (for images) decode the data a recipe names."""
    reports: list[CleaningReport] = []
    input_col, label_col = default_columns(data, modality)
    parts: dict[str, Optional[_Part]] = {"train": _read(data.train, "train", data, modality, classification, reports)}
    for role in ("validation", "test"):
        value = getattr(data, role)
        if isinstance(value, bool) or isinstance(value, int) and not isinstance(value, float):
            raise DataError(f"data.{role} must be a fraction between 0 and 1, a path or a data set name; got {value!r}")
        parts[role] = None if value is None or isinstance(value, float) else \
            _read(value, role, data, modality, classification, reports)

    names = None
    if classification:
        names = _label_names(parts["train"], label_col, data.labels, packaged_classes(data.train))

    def targets(part: _Part) -> np.ndarray:
        if classification:
            return _class_ids(part, label_col, names, bool(data.labels))
        return part.df[label_col].to_numpy(dtype=np.float32)

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
            strat = train_targets[keep] if classification else None
            what = f"a {role} split (data.{role}: {fraction}) from {parts['train'].source}"
            kept, held = stratified_split(strat, len(keep), int(round(fraction * n_all)), seed,
                                          label_names=names, what=what)
            how = f"{fraction:.0%} of train held out{' (stratified)' if classification else ''}, seed {seed}"
            parts[role] = parts["train"].take(keep[held], how)
            keep = keep[kept]
    if len(keep) < n_all:
        parts["train"] = parts["train"].take(keep, f"train rows left after hold-out ({len(keep)} of {n_all})")

    limits = {"train": data.max_train_samples, "validation": data.max_eval_samples, "test": data.max_eval_samples}
    for role, limit in limits.items():
        part = parts[role]
        if part is not None and limit is not None and limit < len(part.df):
            strat = targets(part) if classification else None
            part = part.take(stratified_subset(strat, len(part.df), limit, seed), part.how)
            part.how += f"; subset of {limit} ({'stratified' if classification else 'random'}, seed {seed})"
            parts[role] = part

    present = {role: p for role, p in parts.items() if p is not None}
    if modality == "image":
        inputs = _image_splits(present, input_col, data)
    else:
        inputs = {role: p.df[input_col].astype(str).tolist() for role, p in present.items()}
    splits = {role: Split(inputs[role], targets(p)) for role, p in present.items()}

    description = {role: {"source": p.source, "rows": len(p.df), "how": p.how} for role, p in present.items()}
    description["columns"] = {"input": input_col, "label": label_col}
    if modality == "image":
        pixels = splits["train"].inputs
        description["image_shape"] = list(pixels.shape[1:])
    return DataBundle(modality=modality, train=splits["train"], validation=splits.get("validation"),
                      test=splits.get("test"), label_names=names, cleaning=reports, description=description)
