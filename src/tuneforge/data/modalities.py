"""Modalities: the input side of a task, in one place per kind of input (text, image).

A modality says which recipe key names its input column and its default, whether a
folder can be a data source, how cleaned rows become model inputs (strings, or images
decoded at one common size), and how raw inputs given to ``predict`` become a split.
Tasks pick a modality by name (``Task.modality``); the data loader, the data checks and
prediction ask it instead of testing the name. Audio would be a third entry here.

Example::

    MODALITIES.get("image").column(recipe.data)   # ("image_column", "image")
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from ..errors import DataError
from ..registry import Registry
from .images import choose_geometry, decode_images, folder_has_images, probe_images
from .tables import folder_message

MODALITIES: Registry["Modality"] = Registry("modality")


class Modality:
    """Inputs of one kind; see the module docstring."""

    name = ""
    default_column = ""
    drops_duplicates = False   # whether cleaning drops exact duplicate inputs
    augments = False           # whether data.augment applies
    reads_folders = False      # whether a folder (of class sub-folders) can be a data source
    hf_example_head = ""       # transformers class with one output vector per example

    @property
    def column_key(self) -> str:
        return f"{self.name}_column"

    def column(self, data) -> tuple[str, str]:
        """(recipe key, column name) of the input column."""
        return self.column_key, getattr(data, self.column_key) or self.default_column

    @property
    def model_modality(self) -> str:
        """The modality a model must have to take these inputs (what ``peek_model`` reports)."""
        return self.name

    def required_columns(self, data) -> list[tuple[str, str]]:
        """``[(recipe key, column)]`` every data source must have (the input column first)."""
        return [self.column(data)]

    def folder_problem(self, key: str, path: Path) -> Optional[str]:
        """Why ``path`` (a folder) cannot be a data source, or None when it can."""
        return f"{key}: {folder_message(path)}"

    def inputs(self, parts: dict, column: str, data) -> dict[str, Any]:
        """``{split: model inputs}`` of cleaned parts (each with ``df``, ``base_dir``, ``source``, ``where``)."""
        raise NotImplementedError

    def describe(self, inputs: dict[str, Any]) -> dict:
        return {}

    def raw_inputs(self, values: list, data) -> Any:
        """Inputs given to ``predict`` as a split's inputs."""
        raise NotImplementedError


class Text(Modality):
    name, default_column, drops_duplicates = "text", "text", True
    hf_example_head = "AutoModelForSequenceClassification"

    def inputs(self, parts, column, data):
        return {role: p.df[column].astype(str).tolist() for role, p in parts.items()}

    def raw_inputs(self, values, data):
        return [str(x) for x in values]


class Image(Modality):
    name, default_column, augments, reads_folders = "image", "image", True, True
    hf_example_head = "AutoModelForImageClassification"

    def folder_problem(self, key, path):
        return None if folder_has_images(path) else f"{key}: {path} holds no images in class sub-folders"

    def inputs(self, parts, column, data):
        """Decode every split's images at one common size and channel count."""
        root = Path(data.root).expanduser().resolve() if data.root else None
        if root is not None and not root.is_dir():
            raise DataError(f"data.root: {data.root} is not a folder")
        args = {name: (p.df[column].tolist(), p.base_dir, root, p.source, [p.where(i) for i in p.df.index])
                for name, p in parts.items()}
        headers = [h for a in args.values() for h in probe_images(a[0], a[1], a[2], a[3], row_labels=a[4])]
        channels, size = choose_geometry(headers, data.image_size)
        return {name: decode_images(a[0], size, a[1], a[2], a[3], channels=channels, row_labels=a[4])
                for name, a in args.items()}

    def describe(self, inputs):
        return {"image_shape": list(inputs["train"].shape[1:])}

    def raw_inputs(self, values, data):
        return decode_images(values, data.image_size, None, None, "predict inputs")


for _m in (Text(), Image()):
    MODALITIES.register(_m.name, f"{_m.name} inputs")(_m)

from . import lm_examples  # noqa: E402,F401  (registers the lm-text modality of causal language models)
