"""Cheap checks of a recipe's ``data`` section, for ``tuneforge validate``.

Nothing is decoded or fully loaded: files are checked to exist, packaged names to be
known, and the input and label columns to be present (reading only a table's header,
a Parquet schema, or the first JSON lines). Every problem is a string starting with
the recipe key it concerns, so all of them can be reported at once.

Example::

    check_data(recipe.data, "text", classification=True)
    # ["data.label_column: column 'lable' is not in train.csv (columns: text, label; did you mean \"label\"?)"]
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from ..errors import DataError
from ..recipe.schema import DataSection
from .images import folder_has_images
from .packaged import DATASETS, is_packaged, split_name, unknown_source_message
from .tables import as_table, folder_message, read_columns


def _columns_of(key: str, value: Any, problems: list[str], modality: str = "image") -> Optional[tuple[list[str], str]]:
    """(columns, description) of one source, or None after recording why it cannot be read."""
    try:
        if not isinstance(value, (str, Path)):
            df, where = as_table(value)
            return [str(c) for c in df.columns], where
        if isinstance(value, str) and is_packaged(value):
            base, split = split_name(value)
            loader = DATASETS.get(base)
            if split is not None and split not in loader.splits:
                problems.append(f"{key}: data set {base!r} has no split {split!r}; it has: {', '.join(loader.splits)}")
                return None
            return list(loader.columns), value
        path = Path(value).expanduser()
        if path.is_dir():
            if modality != "image":
                problems.append(f"{key}: {folder_message(path)}")
                return None
            if not folder_has_images(path):
                problems.append(f"{key}: {path} holds no images in class sub-folders")
                return None
            return ["image", "label"], str(path)
        if not path.exists():
            problems.append(f"{key}: {unknown_source_message(str(value))}")
            return None
        return read_columns(path), str(path)
    except DataError as e:
        problems.append(f"{key}: {e}")
    except OSError as e:
        problems.append(f"{key}: {value} cannot be read ({e.strerror or e})")
    return None


def check_data(data: DataSection, modality: str, classification: bool) -> list[str]:
    """Problems with the data a recipe names (an empty list when none were found)."""
    from .load import default_columns, missing_column_message

    problems: list[str] = []
    input_col, label_col = default_columns(data, modality)
    input_key = "image_column" if modality == "image" else "text_column"
    for role in ("train", "validation", "test"):
        value = getattr(data, role)
        if value is None or (role != "train" and isinstance(value, float)):
            continue
        found = _columns_of(f"data.{role}", value, problems, modality)
        if found is None:
            continue
        columns, where = found
        for key, column in ((input_key, input_col), ("label_column", label_col)):
            if column not in columns:
                problem = missing_column_message(key, column, columns, where)
                if problem not in problems:
                    problems.append(problem)
    if data.root is not None and not Path(data.root).expanduser().is_dir():
        problems.append(f"data.root: {data.root} is not a folder")
    if data.labels is not None:
        if not classification:
            problems.append("data.labels: class names are only used by classification tasks")
        elif len(set(map(str, data.labels))) != len(data.labels):
            problems.append("data.labels: a class name is listed twice")
        elif len(data.labels) < 2:
            problems.append("data.labels: classification needs at least 2 classes")
    if data.augment and modality != "image":
        problems.append("data.augment: augmentation applies to image tasks only")
    return problems
