"""Which model a run hands back: the step its weights come from and, when that is the step-0 model, why.

The *step-0 model* is the model before any optimizer step: the pre-trained body with its head solved
on the frozen features (a warm-started run scores it at step 0), or the untouched model when no step
completed. A run hands it back when its strategy takes no step (a solved ``linear-probe``), when no
step completed, or when ``train.restore_best`` kept the step-0 evaluation because every later one
scored worse (a tie goes to the later, trained model: see :class:`.callbacks.MetricTracker`). In the
last case the training time was spent and its result discarded; ``metrics.json`` records it as
``final_model`` and the summary, the report and a comparison's leaderboard say so in words.

Example::

    record = final_model_record(trainer.state, recipe.train.restore_best, history.records, tracker,
                                trainer.total_steps)
    record["is_step0"], record["why"]
"""
from __future__ import annotations

from typing import Optional

from .state import TrainState


def final_model_record(state: TrainState, restore_best: bool, history: list[dict], tracker,
                       total_steps: int) -> dict:
    """``metrics.json``'s ``final_model``: ``step`` (whose weights the run hands back), ``steps_trained``,
    ``chosen_by`` ("best validation (train.restore_best)" or "last step"), ``is_step0``,
    ``training_discarded`` (steps were taken, and the step-0 model was handed back anyway) and ``why``,
    in words. ``tracker``: the monitored metric's :class:`.callbacks.MetricTracker` (None without
    validation); ``history``: the validation records (``history.jsonl``)."""
    kept_best = restore_best and state.best_step is not None
    step = state.best_step if kept_best else state.step
    discarded = step == 0 and state.step > 0
    if step > 0:
        why = (f"the weights of the best validation evaluation (step {step} of {state.step})" if kept_best
               else f"the weights after the last training step (step {step})")
    elif state.step == 0:
        why = _untrained_why(state, total_steps)
    else:
        why = _discarded_why(state, history, tracker)
    return {"step": int(step), "steps_trained": int(state.step),
            "chosen_by": "best validation (train.restore_best)" if kept_best else "last step",
            "is_step0": step == 0, "training_discarded": discarded, "why": why}


def _untrained_why(state: TrainState, total_steps: int) -> str:
    if total_steps == 0:
        return ("the step-0 model by design: the pre-trained model with its head solved on the frozen features "
                "(this strategy takes no training step)")
    if state.skipped_batches:
        return (f"the step-0 model: no training step completed ({state.skipped_batches} batches skipped for a "
                "non-finite loss or gradient, train.nonfinite=skip)")
    return "the step-0 model: no training step completed"


def _discarded_why(state: TrainState, history: list[dict], tracker) -> str:
    tail = (f"so train.restore_best handed back the step-0 model (the pre-trained body with its solved head): "
            f"the {state.step} training steps ({state.seconds:.1f}s) were discarded")
    name = getattr(tracker, "name", None)
    scores = [(h.get("step"), (h.get("validation") or {}).get(name)) for h in history] if name else []
    first = next((v for s, v in scores if s == 0 and v is not None), None)
    later = [(s, v) for s, v in scores if s and v is not None]
    if first is None or not later:
        return f"no later validation evaluation was at least as good as step 0's, {tail}"
    best_step, best = (max if tracker.greater else min)(later, key=lambda sv: sv[1])
    return (f"every later validation evaluation scored worse on {name} than step 0 ({first:.4f}; the best "
            f"later one {best:.4f}, at step {best_step}), {tail}")



def model_label(strategy: str, final: Optional[dict]) -> str:
    """The name of the model a run hands back, for its row in a summary: "fine-tuned (full)", or, when it is
    the step-0 model, "step-0 model (full: training discarded)" / "step-0 model (linear-probe)"."""
    final = final or {}
    if not final.get("is_step0"):
        return f"fine-tuned ({strategy})"
    return f"step-0 model ({strategy}" + (": training discarded)" if final.get("training_discarded") else ")")


def handed_back(final: Optional[dict]) -> Optional[str]:
    """"step 18 of 18, best validation (train.restore_best)"; for a step-0 model, what that means (None
    without a record: a run folder from an older version)."""
    if not final:
        return None
    text = f"step {final['step']} of {final['steps_trained']}, {final['chosen_by']}"
    if final.get("training_discarded"):
        return text + ": the step-0 model, its training discarded"
    return text + (": the step-0 model (no training step)" if final.get("is_step0") else "")
