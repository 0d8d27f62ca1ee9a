"""Which columns a recipe's data uses, and the message when one is missing (shared by load and check)."""
from __future__ import annotations

from ..recipe.schema import DataSection
from ..registry import did_you_mean
from .modalities import MODALITIES


def default_columns(data: DataSection, modality: str) -> tuple[str, str, str]:
    """(input key, input column, label column): e.g. ``("text_column", "text", "label")`` by default.

    The input column is a list of two names for a text pair (``data.text_column: [premise, hypothesis]``).
    """
    key, column = MODALITIES.get(modality).column(data)
    return key, column, data.label_column or MODALITIES.get(modality).default_label_column


def input_columns(column) -> list[str]:
    """The input column(s) as a list: one column, or the two columns of a text pair."""
    return [column] if isinstance(column, str) else [str(c) for c in column]


def missing_column_message(key: str, column: str, columns, source: str) -> str:
    """'data.label_column: column 'lable' is not in train.csv (columns: ...; did you mean ...)'."""
    names = [str(c) for c in columns]
    hint = did_you_mean(column, names).strip().strip("()")
    return (f"data.{key}: column {column!r} is not in {source} (columns: {', '.join(names)}"
            f"{'; ' + hint if hint else ''})")
