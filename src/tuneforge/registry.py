"""Registries: named, listable components (models, strategies, tasks, metrics...).

Example::

    STRATEGIES = Registry("strategy")

    @STRATEGIES.register("full", "train every parameter")
    class Full(Strategy): ...

    STRATEGIES.get("full")       # -> Full
    STRATEGIES.describe()        # -> {"full": "train every parameter"}
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, Generic, TypeVar

from .errors import RecipeError

T = TypeVar("T")


def did_you_mean(name: str, choices) -> str:
    """A ' (did you mean "x"?)' hint, or '' when nothing is close."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


class Registry(Generic[T]):
    """A name -> component map with one-line descriptions."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._descriptions: dict[str, str] = {}

    def register(self, name: str, description: str = "") -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            doc = description or (getattr(obj, "__doc__", None) or "").strip().split("\n")[0]
            self._descriptions[name] = doc
            return obj

        return add

    def get(self, name: str) -> T:
        if name not in self._items:
            raise RecipeError(self.unknown_message(name))
        return self._items[name]

    def unknown_message(self, name: Any) -> str:
        return (f"unknown {self.kind} {name!r}{did_you_mean(name, self._items)}; "
                f"known: {', '.join(sorted(self._items))}")

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def names(self) -> list[str]:
        return sorted(self._items)

    def describe(self) -> dict[str, str]:
        return {k: self._descriptions[k] for k in sorted(self._items)}
