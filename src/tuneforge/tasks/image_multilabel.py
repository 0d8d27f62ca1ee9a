"""``image-multilabel``: tag an image with any subset of L labels.

An image folder (one sub-folder per class) cannot say that an image has two labels, so
the data is a table (CSV, JSON Lines, Parquet) with an image path column and a label
column holding a list or a ``data.label_delimiter``-joined string. The saved timm model
has ``label_names`` in its ``config.json`` and ``thresholds.json`` beside it.
"""
from __future__ import annotations

from pathlib import Path

from .base import register
from .multilabel import MultiLabelTask


@register
class ImageMultiLabel(MultiLabelTask):
    """tag an image with any subset of L labels (table with image paths; sigmoid per label, tuned thresholds)"""

    name, modality = "image-multilabel", "image"

    def check_data(self, data) -> list[str]:
        problems = super().check_data(data)
        for role in ("train", "validation", "test"):
            value = getattr(data, role)
            if isinstance(value, (str, Path)) and Path(value).expanduser().is_dir():
                problems.append(f"data.{role}: {value} is a folder; an image folder gives each image one class, "
                                "so image-multilabel reads a table (CSV, JSONL, Parquet) with an image path column "
                                "and a label column holding a list or labels joined by data.label_delimiter")
        return problems
