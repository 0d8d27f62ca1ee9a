"""The packages above the recipe that contribute to it, loaded once, the first time the recipe needs them.

The recipe is the bottom layer: it imports no task, strategy, model or mode. Yet a recipe is only
fully checked (:mod:`.checks`) and normalised (:mod:`.hooks`) with what those packages know. So they
contribute: each registers its checks and hooks from its own package, and the entry layer
(``tuneforge/__init__.py``, through :mod:`tuneforge.plugins`) says here how to import them all.
:func:`load_owners` runs that loader once, before the first check walks or the first hook is asked,
so that no caller can validate a recipe with only part of the checks registered.

Example::

    load_owners_with(import_every_owner)   # the entry layer, at import (cheap: nothing imported yet)
    load_owners()                          # the recipe layer, before walking its checks (once)
"""
from __future__ import annotations

import threading
from typing import Callable, Optional

_loader: Optional[Callable[[], None]] = None
_state = {"loaded": False, "loading": False}
_lock = threading.RLock()


def load_owners_with(loader: Callable[[], None]) -> None:
    """Name the function that imports every contributing package (the entry layer calls this)."""
    global _loader
    _loader = loader


def load_owners() -> None:
    """Import every contributing package, once; a no-op afterwards and while it is under way."""
    if _state["loaded"]:
        return
    with _lock:
        if _state["loaded"] or _state["loading"]:
            return
        if _loader is None:
            raise RuntimeError("the recipe's checks and hooks are contributed by the packages above it, and no "
                               "loader was given for them (tuneforge/__init__.py installs one)")
        _state["loading"] = True
        try:
            _loader()
            _state["loaded"] = True
        finally:
            _state["loading"] = False
