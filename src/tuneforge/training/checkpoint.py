"""Checkpoints that resume exactly, written atomically.

A checkpoint folder ``checkpoints/step-00000123`` holds the network's weights
(safetensors), the optimizer state, the :class:`TrainState` and the random-number
generator states of Python, NumPy and torch. It is written under a temporary name and
renamed when complete, then ``checkpoints/latest`` is switched to it (also by rename), so a
crash mid-write leaves the previous checkpoint intact. Only ``keep`` recent ones stay.
"""
from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_model, save_model

from ..errors import TrainingError
from .state import TrainState

LATEST = "latest"


def _rng_state() -> dict:
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {"python": [py_state[0], list(py_state[1]), py_state[2]],
            "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])]}


def _set_rng_state(state: dict, torch_states: dict) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n[0], np.array(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    torch.set_rng_state(torch_states["cpu"])
    if torch.cuda.is_available() and "cuda" in torch_states:
        torch.cuda.set_rng_state_all(torch_states["cuda"])


def write_file_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _check_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise TrainingError(
            f"not enough disk space for a checkpoint in {folder}: about {needed / 2**20:.0f} MB needed, "
            f"{free / 2**20:.0f} MB free. Free some space (or raise train.save_every_steps) and resume "
            f"with `tuneforge run --resume {folder.parent}`; the previous checkpoint is intact.")


def save_checkpoint(folder: Path, net: torch.nn.Module, optimizer, state: TrainState, keep: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"step-{state.step:08d}"
    final = folder / name
    tensors = sum(t.numel() * t.element_size() for t in net.state_dict().values())
    _check_space(folder, 3 * tensors + (64 << 20))
    tmp = folder / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model(net, str(tmp / "model.safetensors"))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch_states = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        torch_states["cuda"] = torch.cuda.get_rng_state_all()
    torch.save(torch_states, tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps({"state": state.to_dict(), "rng": _rng_state()}))
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    write_file_atomic(folder / LATEST, name)
    _prune(folder, keep, protect=name)
    return final


def _prune(folder: Path, keep: int, protect: str) -> None:
    ckpts = sorted(p for p in folder.glob("step-*") if p.is_dir())
    for old in ckpts[:-keep]:
        if old.name != protect:
            shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(folder: Path) -> Path | None:
    pointer = folder / LATEST
    if not pointer.is_file():
        return None
    path = folder / pointer.read_text().strip()
    return path if (path / "state.json").is_file() else None


def load_checkpoint(path: Path, net: torch.nn.Module, optimizer) -> TrainState:
    """Restore weights, optimizer and RNG states; return the saved :class:`TrainState`."""
    missing, unexpected = load_model(net, str(path / "model.safetensors"), strict=False)
    if missing or unexpected:
        raise TrainingError(f"checkpoint {path} belongs to another model: {len(missing)} missing and "
                            f"{len(unexpected)} unexpected weights (e.g. {(missing or unexpected)[0]})")
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    meta = json.loads((path / "state.json").read_text())
    _set_rng_state(meta["rng"], torch.load(path / "rng.pt", weights_only=True))
    return TrainState.from_dict(meta["state"])
