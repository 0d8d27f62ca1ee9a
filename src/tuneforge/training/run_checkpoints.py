"""A training run's checkpoints: its best weights, the checkpoints it resumes from, its history trimmed.

:meth:`RunCheckpoints.save` writes weights, optimizer, scaler and train state (RNG states included)
and the engine's own state (under DP-SGD, the accountant's history); :meth:`RunCheckpoints.load`
restores them and :meth:`RunCheckpoints.trim_history` drops the ``history.jsonl`` records written
after the checkpoint, so a resumed run continues exactly where the interrupted one stopped. The best
weights by the validation metric go to ``checkpoints/best.safetensors`` (in memory without a run
folder) and are put back at the end when ``train.restore_best`` is on. Without a run folder nothing
is written and nothing can be resumed.

Example::

    checkpoints = RunCheckpoints(run_dir, accelerator, recipe.train)
    checkpoints.save(model.net, optimizer, state, scaler, engine)
    state = checkpoints.load(model.net, optimizer, scaler, engine)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from safetensors.torch import load_model, save_model

from ..errors import TrainingError
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .state import TrainState


class RunCheckpoints:
    """The checkpoints of one run folder (``run_dir`` None: best weights in memory, nothing else)."""

    def __init__(self, run_dir: Optional[Path], accelerator, train):
        self.run_dir, self.accelerator, self.train = run_dir, accelerator, train
        self._best_in_memory: Optional[dict] = None

    def best_path(self) -> Optional[Path]:
        return None if self.run_dir is None else self.run_dir / "checkpoints" / "best.safetensors"

    def save_best(self, net) -> None:
        if not self.train.restore_best:
            return
        path = self.best_path()
        if path is None:
            self._best_in_memory = {k: v.detach().clone() for k, v in net.state_dict().items()}
            return
        if self.accelerator.is_main_process:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(".best.tmp")
            save_model(net, str(tmp))
            tmp.replace(path)

    def restore_best(self, net, state: TrainState) -> None:
        if not self.train.restore_best or state.best_step is None:
            return
        path = self.best_path()
        self.accelerator.wait_for_everyone()
        if path is None:
            net.load_state_dict(self._best_in_memory)
        elif path.is_file():
            load_model(net, str(path))

    def save(self, net, optimizer, state: TrainState, scaler, engine) -> None:
        if self.run_dir is None:
            return
        self.accelerator.wait_for_everyone()
        kept = engine.state_dict()
        if kept is not None:  # the accountant's history: a resumed run's epsilon counts these steps
            state.privacy = kept
        if self.accelerator.is_main_process:
            save_checkpoint(self.run_dir / "checkpoints", net, optimizer, state, self.train.keep_checkpoints, scaler)
        self.accelerator.wait_for_everyone()

    def load(self, net, optimizer, scaler, engine) -> TrainState:
        """The latest complete checkpoint's train state, its weights, optimizer, scaler and engine state restored."""
        path = latest_checkpoint(self.run_dir / "checkpoints") if self.run_dir else None
        if path is None:
            raise TrainingError(f"nothing to resume in {self.run_dir}: it holds no complete checkpoint")
        state = load_checkpoint(path, net, optimizer, scaler)
        engine.load_state_dict(state.privacy)
        return state

    def trim_history(self, step: int) -> None:
        """Drop the ``history.jsonl`` records written after the checkpoint of ``step``."""
        history = self.run_dir / "history.jsonl"
        if history.is_file():
            keep = [l for l in history.read_text().splitlines() if l and json.loads(l)["step"] <= step]
            history.write_text("".join(l + "\n" for l in keep))
