"""The trainer's best weights, checkpoints and resume (a mixin of :class:`~.trainer.Trainer`).

``checkpoint()`` writes weights, optimizer, scaler, train state (RNG states included) and, under
privacy, the accountant's history; ``_resume()`` restores them and trims ``history.jsonl`` to the
checkpoint's step, so a resumed run continues exactly where the interrupted one stopped. The best
weights by the validation metric go to ``checkpoints/best.safetensors`` (in memory without a run
folder) and are put back at the end when ``train.restore_best`` is on.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from safetensors.torch import load_model, save_model

from ..errors import TrainingError
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint


class CheckpointMixin:
    def _best_path(self) -> Optional[Path]:
        return None if self.run_dir is None else self.run_dir / "checkpoints" / "best.safetensors"

    def _save_best(self) -> None:
        if not self.recipe.train.restore_best:
            return
        path = self._best_path()
        if path is None:
            self._best_in_memory = {k: v.detach().clone() for k, v in self.unwrapped.net.state_dict().items()}
            return
        if self.accelerator.is_main_process:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(".best.tmp")
            save_model(self.unwrapped.net, str(tmp))
            tmp.replace(path)

    def _restore_best(self) -> None:
        if not self.recipe.train.restore_best or self.state.best_step is None:
            return
        path = self._best_path()
        self.accelerator.wait_for_everyone()
        if path is None:
            self.unwrapped.net.load_state_dict(self._best_in_memory)
        elif path.is_file():
            load_model(self.unwrapped.net, str(path))

    def checkpoint(self) -> None:
        if self.run_dir is None:
            return
        self.accelerator.wait_for_everyone()
        if self.privacy is not None:  # the accountant's history: a resumed run's epsilon counts these steps
            self.state.privacy = self.privacy.state_dict()
        if self.accelerator.is_main_process:
            save_checkpoint(self.run_dir / "checkpoints", self.unwrapped.net, self.optimizer,
                            self.state, self.recipe.train.keep_checkpoints, self.scaler)
        self.accelerator.wait_for_everyone()

    def _resume(self) -> None:
        path = latest_checkpoint(self.run_dir / "checkpoints") if self.run_dir else None
        if path is None:
            raise TrainingError(f"nothing to resume in {self.run_dir}: it holds no complete checkpoint")
        self.state = load_checkpoint(path, self.unwrapped.net, self.optimizer, self.scaler)
        self.seconds_before = self.state.seconds
        if self.privacy is not None:
            self.privacy.load_state_dict(self.state.privacy)
        self._stage = -1
        if self.state.step > 0:  # stage and learning rates of the last step taken, as the interrupted run had
            self._apply_stage(self.state.step - 1)
        history = self.run_dir / "history.jsonl"
        if history.is_file():  # drop records written after the checkpoint
            keep = [l for l in history.read_text().splitlines() if l and json.loads(l)["step"] <= self.state.step]
            history.write_text("".join(l + "\n" for l in keep))
