"""The little a run needs to know about being one of several processes (``torchrun``/``accelerate launch``).

Every process runs the same pipeline on the same recipe: each loads the data and the
model, trains on its shard of every global batch (the trainer's ``batch[rank::world]``)
and evaluates identically. Only the main process (rank 0) writes files; the run folder
is created once, by it, and its name is sent to the others.

Outside a launcher (``WORLD_SIZE`` unset or 1) these helpers do nothing and start nothing.

Example::

    run_dir = shared_value(lambda: new_run_dir("runs", "demo"))   # the same folder in every process
    if is_main_process():
        write_json(run_dir / "metrics.json", metrics)
"""
from __future__ import annotations

import os
from typing import Callable, TypeVar

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
