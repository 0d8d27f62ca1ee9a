"""Checkpoints that resume exactly, written atomically.

A checkpoint folder ``checkpoints/step-00000123`` holds the network's weights
(safetensors), the optimizer state, the :class:`TrainState` and the random-number
generator states of Python, NumPy and torch. It is written under a temporary name and
renamed when complete, then ``checkpoints/latest`` is switched to it (also by rename), so a
crash mid-write leaves the previous checkpoint intact. Only ``keep`` recent ones stay.
A second checkpoint of the same step (step end, then epoch end) gets the name
``step-00000123.1`` rather than replacing the folder ``latest`` points to.
:func:`check_checkpoint` compares a checkpoint with a model from the file header alone.
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
from .faults import fault_point
from .state import TrainState

LATEST = "latest"
CHECKPOINT_FILES = ("model.safetensors", "optimizer.pt", "rng.pt", "state.json")


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


def _free_name(folder: Path, step: int) -> str:
    """``step-00000123``, or ``step-00000123.1``, ... when ``latest`` already points to that name
    (a step-end and an epoch-end checkpoint of the same step): the pointed-to folder is never replaced."""
    current = (folder / LATEST).read_text(encoding="utf-8", errors="replace").strip() \
        if (folder / LATEST).is_file() else None
    base, n = f"step-{step:08d}", 0
    name = base
    while name == current:
        n += 1
        name = f"{base}.{n}"
    return name


def _order(path: Path) -> tuple[int, int]:
    step, _, n = path.name.removeprefix("step-").partition(".")
    return (int(step), int(n or 0)) if step.isdigit() and (not n or n.isdigit()) else (-1, -1)


def save_checkpoint(folder: Path, net: torch.nn.Module, optimizer, state: TrainState, keep: int,
                    scaler=None) -> Path:
    """Write a complete checkpoint of ``state.step`` and point ``latest`` at it; keep the ``keep`` newest.

    Order of operations (each crash point leaves a resumable folder): check free space; write
    every file into ``.tmp-<name>``; fsync; rename it to ``<name>``; switch ``latest`` (atomic
    rename); only then delete older checkpoints. ``scaler``: the fp16 loss scaler (``scaler.pt``), when one runs.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tensors = sum(t.numel() * t.element_size() for t in net.state_dict().values())
    _check_space(folder, 3 * tensors + (64 << 20))
    name = _free_name(folder, state.step)
    final = folder / name
    tmp = folder / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model(net, str(tmp / "model.safetensors"))
    fault_point("checkpoint-write")  # tests: die with a half-written folder
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch_states = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        torch_states["cuda"] = torch.cuda.get_rng_state_all()
    torch.save(torch_states, tmp / "rng.pt")
    if scaler is not None and scaler.is_enabled():
        torch.save(scaler.state_dict(), tmp / "scaler.pt")
    (tmp / "state.json").write_text(json.dumps({"state": state.to_dict(), "rng": _rng_state()}))
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    if final.exists():  # a leftover of a crash after the rename but before the pointer switch
        shutil.rmtree(final)
    os.replace(tmp, final)
    write_file_atomic(folder / LATEST, name)
    _prune(folder, keep, protect=name)
    return final


def _prune(folder: Path, keep: int, protect: str) -> None:
    ckpts = sorted((p for p in folder.glob("step-*") if p.is_dir()), key=_order)
    for old in ckpts[:-keep]:
        if old.name != protect:
            shutil.rmtree(old, ignore_errors=True)
    for leftover in folder.glob(".tmp-step-*"):  # half-written folders of killed runs
        shutil.rmtree(leftover, ignore_errors=True)


def latest_checkpoint(folder: Path) -> Path | None:
    """The checkpoint ``latest`` points to, if it is complete; else None."""
    pointer = folder / LATEST
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8", errors="replace").strip()
    if not name.startswith("step-") or "/" in name or "\\" in name:
        return None
    path = folder / name
    return path if all((path / f).is_file() for f in CHECKPOINT_FILES) else None


def check_checkpoint(path: Path, net: torch.nn.Module) -> None:
    """Raise TrainingError unless the checkpoint's weights have ``net``'s names and shapes.

    Reads only the safetensors header, so a resume can refuse a checkpoint of another model
    before it touches the run folder.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path / "model.safetensors"), framework="pt") as f:
            saved = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for a damaged file
        raise TrainingError(f"checkpoint {path} is damaged ({e}); delete it (and point "
                            f"{path.parent / LATEST} at an older one) or start a new run") from None
    state = net.state_dict()
    own = {k: tuple(v.shape) for k, v in state.items()}
    shared: dict[int, list[str]] = {}   # tied weights (an LM head tied to the embeddings) are saved once
    for k, v in state.items():
        if v.numel():
            shared.setdefault(v.data_ptr(), []).append(k)
    twins = {k: names for names in shared.values() if len(names) > 1 for k in names}
    missing = sorted(k for k in set(own) - set(saved) if not any(t in saved for t in twins.get(k, ())))
    unexpected = sorted(set(saved) - set(own))
    reshaped = sorted(k for k in set(own) & set(saved) if own[k] != saved[k])
    if missing or unexpected or reshaped:
        example = (missing or unexpected or reshaped)[0]
        raise TrainingError(
            f"checkpoint {path} belongs to another model: {len(missing)} weights missing, {len(unexpected)} "
            f"unexpected, {len(reshaped)} of another shape (e.g. {example!r}); resume it with the recipe it "
            f"was written with (its run folder's recipe.yaml), or start a new run")


def load_checkpoint(path: Path, net: torch.nn.Module, optimizer, scaler=None) -> TrainState:
    """Restore weights, optimizer, RNG and (fp16) loss-scaler states; return the saved :class:`TrainState`."""
    check_checkpoint(path, net)
    load_model(net, str(path / "model.safetensors"))
    try:
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
        meta = json.loads((path / "state.json").read_text())
        _set_rng_state(meta["rng"], torch.load(path / "rng.pt", weights_only=True))
        if scaler is not None and scaler.is_enabled() and (path / "scaler.pt").is_file():
            scaler.load_state_dict(torch.load(path / "scaler.pt", weights_only=True))
    except (RuntimeError, ValueError, KeyError, EOFError, OSError) as e:
        raise TrainingError(f"checkpoint {path} could not be restored ({type(e).__name__}: {e}); it may be "
                            "damaged or from another optimizer; start a new run") from None
    return TrainState.from_dict(meta["state"])
