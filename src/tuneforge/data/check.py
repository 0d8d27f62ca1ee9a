"""Cheap checks of a recipe's ``data`` section, for ``tuneforge validate``.

Nothing is decoded or fully loaded: files are checked to exist, packaged names to be
known, and the input and label columns to be present (reading only a table's header,
a Parquet schema, or the first JSON lines). Every problem is a string starting with
the recipe key it concerns, so all of them can be reported at once.

Example::

    check_data(recipe.data, TASKS.get("text-classification"))
    # ["data.label_column: column 'lable' is not in train.csv (columns: text, label; did you mean \"label\"?)"]
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from ..errors import DataError
from ..extras import extra_problem
from ..recipe.schema import DataSection
from .augment import AUGMENTATIONS
from .columns import default_columns, input_columns, missing_column_message
from .modalities import MODALITIES
from .packaged import DATASETS, is_packaged, split_name, unknown_source_message
from .tables import as_table, read_columns


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
            problem = MODALITIES.get(modality).folder_problem(key, path)
            if problem:
                problems.append(problem)
                return None
            return [MODALITIES.get(modality).default_column, "label"], str(path)
        if not path.exists():
            problems.append(f"{key}: {unknown_source_message(str(value))}")
            return None
        return read_columns(path), str(path)
    except DataError as e:
        problems.append(f"{key}: {e}")
    except OSError as e:
        problems.append(f"{key}: {value} cannot be read ({e.strerror or e})")
    return None


def check_data(data: DataSection, task) -> list[str]:
    """Problems with the data a recipe names for ``task`` (an empty list when none were found)."""
    extra = MODALITIES.get(task.modality).extra
    problems: list[str] = [p for p in [extra and extra_problem(extra, f"task {task.name!r}")] if p]
    input_key, input_col, label_col = default_columns(data, task.modality)
    for role in ("train", "validation", "test"):
        value = getattr(data, role)
        if value is None or (role != "train" and isinstance(value, float)):
            continue
        found = _columns_of(f"data.{role}", value, problems, task.modality)
        if found is None:
            continue
        columns, where = found
        needed = [(k, c) for k, col in MODALITIES.get(task.modality).required_columns(data) for c in input_columns(col)]
        needed += [("label_column", label_col)] if task.label_column_key else []
        for key, column in needed:
            if column not in columns:
                problem = missing_column_message(key, column, columns, where)
                if problem not in problems:
                    problems.append(problem)
    if data.root is not None and not Path(data.root).expanduser().is_dir():
        problems.append(f"data.root: {data.root} is not a folder")
    problems += task.check_data(data)
    if data.augment_views is not None and not data.augment:
        problems.append("data.augment_views: fixes augmented views, but data.augment is empty; set data.augment "
                        "or drop data.augment_views")
    elif data.augment_views is not None and any(AUGMENTATIONS.get(e["name"]).per_batch for e in data.augment):
        problems.append("data.augment_views: fixes one augmented view per image, but mixup and cutmix blend two "
                        "images per batch; remove them from data.augment or drop data.augment_views")
    if data.augment and not MODALITIES.get(task.modality).augments:
        problems.append("data.augment: augmentation applies to image tasks only")
    elif not task.soft_targets:
        mixing = [e["name"] for e in data.augment if AUGMENTATIONS.get(e["name"]).per_batch]
        if mixing:
            problems.append(f"data.augment: {' and '.join(mixing)} blend{'s' if len(mixing) == 1 else ''} the labels "
                            f"of two images, which needs a "
                            f"single-label classification task (task {task.name!r} has other targets); "
                            f"remove {' and '.join(mixing)} (the 'heavy' preset includes both)")
    return problems
