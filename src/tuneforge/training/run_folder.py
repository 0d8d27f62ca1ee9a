"""Run folders: always new (never overwritten), written file by file atomically.

A run folder ``runs/<name>-<YYYYmmdd-HHMMSS>`` holds ``recipe.yaml``, ``status.json``,
``history.jsonl``, ``metrics.json``, ``checkpoints/`` and ``model/``. ``status.json``
says whether the run is ``running``, ``completed``, ``failed`` or ``interrupted``.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from ..errors import TuneforgeError
from .distributed import is_main_process


def new_run_dir(output_dir: str | Path, name: str) -> Path:
    """Create a fresh run folder (exclusive creation: an existing folder is never reused)."""
    root = Path(output_dir)
    if root.exists() and not root.is_dir():
        raise TuneforgeError(f"output.dir {root} exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = root / (f"{safe}-{stamp}" + (f"-{n}" if n else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise TuneforgeError(f"could not create a new run folder in {root}")


def write_json(path: Path, obj) -> None:
    """Write JSON atomically (temporary file, then rename); only the main process of a multi-process run writes."""
    if not is_main_process():
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_default), encoding="utf-8")
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    if not is_main_process():
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def set_status(run_dir: Path, state: str, **extra) -> None:
    write_json(run_dir / "status.json", {"state": state, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **extra})


def read_status(run_dir: Path) -> dict:
    path = run_dir / "status.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _default(o):
    try:
        import numpy as np
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:
        pass
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")
