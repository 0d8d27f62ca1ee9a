"""The little a run needs to know about being one of several processes (``torchrun``/``accelerate launch``).

Every process runs the same pipeline on the same recipe: each loads the data and the
model, trains on its shard of every global batch (the trainer's ``batch[rank::world]``)
and evaluates identically. Only the main process (rank 0) writes files; the run folder
is created once, by it, and its name is sent to the others.

Outside a launcher (``WORLD_SIZE`` unset or 1) these helpers do nothing and start nothing.
:func:`describe_processes` is what ``metrics.json`` records under ``distributed``: how many
processes trained the run, how Accelerate joined them and which launcher started them.

Example::

    run_dir = shared_value(lambda: new_run_dir("runs", "demo"))   # the same folder in every process
    if is_main_process():
        write_json(run_dir / "metrics.json", metrics)
"""
from __future__ import annotations

import os
from typing import Callable, Mapping, Optional, TypeVar

from ..errors import TuneforgeError

T = TypeVar("T")


def world_size() -> int:
    """Number of processes of this run (1 unless started by a distributed launcher)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def is_main_process() -> bool:
    """True in the process that writes files (rank 0, or the only process)."""
    return os.environ.get("RANK", "0").strip() in ("", "0")


def shared_value(make: Callable[[], T]) -> T:
    """``make()`` run in the main process only, its result handed to every process.

    A user error raised by ``make`` is raised in every process, so none waits forever.
    """
    if world_size() == 1:
        return make()
    import torch
    import torch.distributed as dist
    from accelerate import PartialState

    PartialState(cpu=not torch.cuda.is_available())  # joins the process group the launcher set up
    box: list = [None]
    if is_main_process():
        try:
            box[0] = ("ok", make())
        except TuneforgeError as e:
            box[0] = ("error", str(e))
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "error":
        raise TuneforgeError(value)
    return value


def describe_processes(state, env: Optional[Mapping[str, str]] = None) -> dict:
    """How many processes trained a run, from Accelerate's state (``accelerator.state``):
    ``{"processes": N, "type": "MULTI_CPU", "backend": "gloo", "launcher": "torchrun"}``.

    ``type`` is Accelerate's ``DistributedType`` (``NO`` for one process), ``backend`` the
    process group's (None for one process). ``launcher`` is read from the environment the
    launcher sets: ``accelerate launch`` (its ``ACCELERATE_MIXED_PRECISION``), ``torchrun`` (a
    ``TORCHELASTIC_RUN_ID`` without it), ``other`` for any other way of starting several
    processes, None for a plain single process.
    """
    env = os.environ if env is None else env
    n = int(getattr(state, "num_processes", 1) or 1)
    kind = getattr(state, "distributed_type", None)
    if "ACCELERATE_MIXED_PRECISION" in env:
        launcher: Optional[str] = "accelerate launch"
    elif "TORCHELASTIC_RUN_ID" in env:
        launcher = "torchrun"
    else:
        launcher = "other" if n > 1 else None
    return {"processes": n, "type": str(getattr(kind, "value", kind)) if kind is not None else "NO",
            "backend": getattr(state, "backend", None), "launcher": launcher}
