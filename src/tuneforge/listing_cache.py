"""`tuneforge list` without importing torch: the registries' one-line listing, cached on disk.

Registries are filled by importing the modules that define their entries, and those modules import
torch, transformers, timm... (seconds of start-up). The plain listing only needs names and one-line
descriptions, so the first ``tuneforge list`` imports everything and saves what it printed into
``$XDG_CACHE_HOME/tuneforge/`` (``~/.cache/tuneforge``; ``TUNEFORGE_CACHE_DIR`` overrides it); later
ones read that file. The file's name carries a fingerprint of every ``.py`` file of the installed
package (path, size, modification time) and of the interpreter, so adding or editing any module, e.g. a
new strategy, makes the next listing import everything again: a stale listing is never shown.
``list --verbose`` and ``show`` import the registries as before (they need the entries' option models).

The rule for the command line (see :mod:`tuneforge.cli`): modules that import torch or another heavy
library are imported inside the command that needs them, never at the top of ``cli.py``, so that
``--help``, ``list`` and a usage error stay light.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Callable, Optional

PACKAGE = Path(__file__).resolve().parent


def fingerprint(package: Path = PACKAGE) -> str:
    """A short hash of every module's path, size and modification time, and of the interpreter."""
    h = hashlib.sha256(f"{sys.executable}\n{sys.version}\n{package}\n".encode())
    for path in sorted(package.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(package)}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    if os.environ.get("TUNEFORGE_CACHE_DIR"):
        return Path(os.environ["TUNEFORGE_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tuneforge"


def cached_listing(build: Callable[[], dict[str, dict[str, str]]],
                   package: Path = PACKAGE) -> dict[str, dict[str, str]]:
    """``{registry plural: {name: description}}`` from the cache, or from ``build()`` (then saved)."""
    path = cache_dir() / f"listing-{fingerprint(package)}.json"
    found = _read(path)
    if found is not None:
        return found
    listing = build()
    _write(path, listing)
    return listing


def _read(path: Path) -> Optional[dict]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write(path: Path, listing: dict) -> None:
    """Save atomically; an unwritable cache folder only costs the next listing its speed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(listing))
        tmp.replace(path)
    except OSError:
        pass
