"""Diagnostics that speak up: checks that turn a silently bad run into a named warning.

Each check is a pure function over what a finished run already holds (plain arrays and
dicts in :class:`RunFacts`, the task ``kind`` passed in) and returns a :class:`Diagnostic`
or ``None``. A diagnostic names what went wrong, its likely cause and the exact dotted
overrides to try (``optimizer.lr=5e-06``). The thresholds are module constants, so tests and
docs can quote them:

* ``below-baseline``: the fine-tuned model's monitored metric is worse than the linear probe on
  frozen pre-trained features, by a paired bootstrap on the same examples with p < 1 - confidence.
  (Without per-example outputs: the baseline's value lies outside the model's bootstrap interval.)
* ``collapsed``: classification, at least :data:`~.collapse.COLLAPSE_SHARE` of predictions are one class
  although that class is at most :data:`~.collapse.COLLAPSE_TRUE_SHARE` of the true labels (or all predictions
  are one class while two or more classes occur); multi-label, the same with label sets (at
  probability 0.5); regression, predictions spread less than :data:`~.collapse.CONSTANT_SPREAD` of the
  targets' standard deviation.
* ``diverging``: the smoothed training loss ends above :data:`DIVERGE_RATIO` x its start or above twice
  the first step's loss (the untrained model's), or gives back more than half of what it had gained
  (and ends above 1.5 x its lowest point).
* ``loss-not-falling``: the smoothed training loss ends above :data:`FLAT_RATIO` x its start, or above
  :data:`FLAT_RATIO` x ``prior_loss`` (the loss of predicting the training class frequencies, or the
  mean: no better than guessing).
  Both loss checks need :data:`MIN_STEPS` optimizer steps; the loss is smoothed over
  :data:`LOSS_WINDOWS` equal windows.
* ``best-at-first-eval``: with two or more validation evaluations, the first is the best and every
  later one is worse by more than :data:`OVERFIT_DROP` (x max(1, |first|)): over-fitting (or, when the
  first evaluation is step 0's, training that only spoiled the solved head). Also when the first
  evaluation is step 0's and no later one beat it, by a tie (within :data:`TIE_TOLERANCE`) or a smaller
  fall: training did not improve on the step-0 model. Both say which model the run hands back
  (``final_model``: the step-0 model, its training discarded, or the trained model kept on a tie).
* ``underfitting``: the model's score on (a sample of) its own training rows is below the frozen
  baseline's training score by more than :data:`UNDERFIT_MARGIN` (x max(1, |baseline|)), unless the
  model is significantly better than the baseline on the evaluation split, or is the step-0 model a
  run handed back after discarding its training (``best-at-first-eval`` speaks for that run).

Suggested learning rates are the current one x10 or /10 (x3, /3), kept within
[:data:`LR_FLOOR`, :data:`LR_CEILING`] so that a wildly wrong lr gets a usable suggestion.

Example::

    facts = RunFacts(kind="classification", metric="macro_f1", y_true=y, outputs=logits,
                     baseline_outputs=probe_logits, losses=[0.69, 0.5, ...], lr=5e-5, epochs=3)
    for d in diagnose(facts):
        print(d.message, d.try_)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from .collapse import collapse_of
from .metrics import TIE_TOLERANCE, ties  # noqa: F401  (TIE_TOLERANCE: quoted above)
from .vs_baseline import compare_folds_to_baseline, compare_to_baseline, verdict  # noqa: F401 (re-exported)

MIN_STEPS = 10
LOSS_WINDOWS = 5
FLAT_RATIO = 0.95
DIVERGE_RATIO = 1.2
OVERFIT_DROP = 0.005
UNDERFIT_MARGIN = 0.05
LR_FLOOR, LR_CEILING = 2e-5, 1e-3   # a suggested lr is at least / at most this (x10 from 1e-9 is still useless)
HIGH_BODY_LR = 1e-4                 # above this, a loss stuck at guessing level more likely means "lr too high"


@dataclass
class Diagnostic:
    """One finding: ``code`` (stable, for tools), ``severity`` ("warning"), what happened, why, and
    ``try_``: dotted overrides to pass to ``tuneforge run`` (``try`` in JSON)."""

    code: str
    severity: str
    message: str
    cause: str
    try_: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"code": self.code, "severity": self.severity, "message": self.message, "cause": self.cause,
                "try": list(self.try_)}

    @classmethod
    def from_dict(cls, d: dict) -> "Diagnostic":
        return cls(d["code"], d.get("severity", "warning"), d["message"], d.get("cause", ""), list(d.get("try", [])))


@dataclass
class RunFacts:
    """Everything the checks may look at; any field may be missing (``None``) and its checks stay quiet.

    ``outputs`` / ``baseline_outputs``: per-example logits ``[N, K]`` (classification) or values
    ``[N]`` (regression) on the evaluation split whose targets are ``y_true``. ``losses``: the
    training loss of each optimizer step (or of each evaluation). ``validation``: the monitored
    metric at each evaluation, in order. ``vs_baseline``: :func:`compare_to_baseline`'s result,
    when already computed.
    """

    kind: str
    metric: str
    greater_is_better: bool = True
    y_true: Optional[np.ndarray] = None
    outputs: Optional[np.ndarray] = None
    baseline_outputs: Optional[np.ndarray] = None
    score: Optional[float] = None                 # the model's metric on the evaluation split
    score_ci: Optional[Sequence[float]] = None
    baseline_score: Optional[float] = None
    vs_baseline: Optional[dict] = None
    label_names: Optional[list[str]] = None
    losses: Optional[Sequence[float]] = None
    prior_loss: Optional[float] = None            # the training loss of predicting the class frequencies / mean
    validation: Optional[Sequence[float]] = None
    validation_epochs: Optional[Sequence[float]] = None
    validation_steps: Optional[Sequence[int]] = None   # the optimizer step of each evaluation (0: before training)
    final_model: Optional[dict] = None            # metrics.json's final_model: which step's weights were handed back
    train_score: Optional[float] = None
    baseline_train_score: Optional[float] = None
    lr: Optional[float] = None
    epochs: Optional[int] = None
    strategy: Optional[str] = None
    confidence: float = 0.95
    resamples: int = 1000
    seed: int = 0


# -- the checks -----------------------------------------------------------------------------------

def _fmt_lr(x: float) -> str:
    return f"{float(f'{x:.1g}'):g}"


def _lr_down(f: RunFacts, by: float = 10) -> list[str]:
    return [f"optimizer.lr={_fmt_lr(min(f.lr / by, LR_CEILING))}"] if f.lr and f.lr > LR_FLOOR / by else []


def _lr_up(f: RunFacts, by: float = 10) -> list[str]:
    return [f"optimizer.lr={_fmt_lr(max(f.lr * by, LR_FLOOR))}"] if f.lr and f.lr < LR_CEILING * by else []


def _stuck(f: RunFacts) -> tuple[str, list[str]]:
    """Cause and overrides for a loss that did not fall: too low an lr, or one so high for a pre-trained
    body that the model collapsed to guessing the class frequencies (loss at ln K from the start)."""
    if f.lr is not None and f.lr > HIGH_BODY_LR and f.strategy != "linear-probe":
        return (f"the loss stayed at guessing level; at optimizer.lr={f.lr:g} the pre-trained body most likely "
                "collapsed at once (too high for fine-tuning a pre-trained body; too low an lr is the other cause)",
                [f"optimizer.lr={_fmt_lr(min(f.lr / 10, HIGH_BODY_LR / 2))}"]
                + (["strategy.name=lp-ft"] if f.strategy != "lp-ft" else []))
    return ("the loss hardly fell: the learning rate is too low, training too short, or too little of the "
            "model trains", _lr_up(f) + _more_epochs(f))


def _more_epochs(f: RunFacts) -> list[str]:
    return [f"train.epochs={2 * f.epochs}"] if f.epochs else []


def _loss_trend(losses) -> Optional[tuple[float, float, float, int, float]]:
    """(first, lowest, last) window means of the finite losses, their count and the very first loss
    (the untrained model's), or None if too few."""
    if losses is None:
        return None
    x = np.asarray([v for v in losses if v is not None], dtype=np.float64)
    x = x[np.isfinite(x)]
    if len(x) < MIN_STEPS:
        return None
    means = [w.mean() for w in np.array_split(x, LOSS_WINDOWS)]
    return float(means[0]), float(min(means)), float(means[-1]), len(x), float(x[0])


def _is_diverging(trend) -> bool:
    first, low, last, _, initial = trend
    gave_back = first > low and (last - low) > 0.5 * (first - low) and last > 1.5 * low
    return last > DIVERGE_RATIO * first or last > 2 * initial or gave_back


def _is_flat(trend, prior_loss: Optional[float] = None) -> bool:
    first, _, last, _, _ = trend
    at_prior = prior_loss is not None and prior_loss > 0 and last > FLAT_RATIO * prior_loss
    return not _is_diverging(trend) and (last > FLAT_RATIO * first or at_prior)


def _vs_baseline(f: RunFacts) -> Optional[dict]:
    if f.vs_baseline is None and f.outputs is not None and f.baseline_outputs is not None and f.y_true is not None:
        f.vs_baseline = compare_to_baseline(f.kind, f.metric, f.greater_is_better, f.y_true, f.outputs,
                                            f.baseline_outputs, f.resamples, f.confidence, f.seed)
    return f.vs_baseline


def check_below_baseline(f: RunFacts) -> Optional[Diagnostic]:
    vs = _vs_baseline(f)
    if vs is not None:
        if not vs["worse"]:
            return None
        how = (f"difference {vs['difference']:+.4f}, interval [{vs['ci'][0]:+.4f}, {vs['ci'][1]:+.4f}], "
               f"p={vs['p_value']:.3f}, {vs['method']}")
    elif f.score is not None and f.baseline_score is not None and f.score_ci:
        lo, hi = f.score_ci
        if not (f.baseline_score > hi if f.greater_is_better else f.baseline_score < lo):
            return None
        how = f"outside the model's interval [{lo:.4f}, {hi:.4f}]"
    else:
        return None
    scores = (f" ({f.score:.4f} against {f.baseline_score:.4f})"
              if f.score is not None and f.baseline_score is not None else "")
    trend = _loss_trend(f.losses)
    if trend is not None and _is_flat(trend, f.prior_loss):
        cause, try_ = _stuck(f)
    elif _underfit(f):
        cause = (f"the model has not even fitted its training rows as well as the frozen features do ({f.metric} "
                 f"{f.train_score:.4f} against {f.baseline_train_score:.4f}): too few steps for the new head and "
                 "the body to settle; training the head first keeps the pre-trained features' accuracy")
        try_ = (["strategy.name=lp-ft"] if f.strategy != "lp-ft" else []) + _more_epochs(f)
    else:
        cause = ("fine-tuning distorted the pre-trained features (learning rate too high for the body) or "
                 "over-fitted a small training set; the frozen features alone did better")
        try_ = ((["strategy.name=lp-ft"] if f.strategy != "lp-ft" else []) + _lr_down(f)
                + (["strategy.name=linear-probe"] if f.strategy != "linear-probe" else []))
    return Diagnostic("below-baseline", "warning",
                      f"the fine-tuned model's {f.metric} is significantly below its own frozen-feature "
                      f"baseline{scores}; {how}", cause, try_)


def check_collapsed(f: RunFacts) -> Optional[Diagnostic]:
    if f.outputs is None or f.y_true is None or len(f.y_true) == 0:
        return None
    what = collapse_of(f.kind, np.asarray(f.y_true), np.asarray(f.outputs, dtype=np.float64), f.label_names)
    if what is None:
        return None
    trend = _loss_trend(f.losses)
    if trend is not None and _is_diverging(trend):
        cause, try_ = "the training loss diverged: the learning rate is too high", _lr_down(f)
    elif trend is not None and _is_flat(trend, f.prior_loss):
        cause, try_ = _stuck(f)
    else:
        cause = ("the model fell back on the majority class / the mean: the learning rate is too high for the "
                 "pre-trained body, training too short, or the classes very imbalanced")
        try_ = _lr_down(f) + (["strategy.name=lp-ft"] if f.strategy != "lp-ft" else []) + _more_epochs(f)
    return Diagnostic("collapsed", "warning", f"predictions collapsed: {what}", cause, try_)


def check_diverging(f: RunFacts) -> Optional[Diagnostic]:
    trend = _loss_trend(f.losses)
    if trend is None or not _is_diverging(trend):
        return None
    first, low, last, n, initial = trend
    return Diagnostic("diverging", "warning",
                      f"the training loss diverged: {initial:.4g} at the first step, {first:.4g} over the first "
                      f"{100 // LOSS_WINDOWS}% of steps, {low:.4g} at best, {last:.4g} over the last ({n} steps)",
                      "the learning rate is too high (or the warm-up too short) for this model and strategy",
                      _lr_down(f) + ["scheduler.warmup=0.1"])


def check_loss_not_falling(f: RunFacts) -> Optional[Diagnostic]:
    trend = _loss_trend(f.losses)
    if trend is None or not _is_flat(trend, f.prior_loss):
        return None
    first, _, last, n, _ = trend
    prior = (f"; guessing the class frequencies / the mean scores {f.prior_loss:.4g}"
             if f.prior_loss is not None else "")
    return Diagnostic("loss-not-falling", "warning",
                      f"the training loss did not fall: {first:.4g} at the start, {last:.4g} at the end "
                      f"({n} steps{prior})", *_stuck(f))


def check_best_at_first_eval(f: RunFacts) -> Optional[Diagnostic]:
    if check_collapsed(f) is not None:   # a collapsed model is reported as such
        return None
    pairs = [(i, v) for i, v in enumerate(f.validation or []) if v is not None and np.isfinite(v)]
    if len(pairs) < 2:
        return None
    (i0, first), later = pairs[0], [v for _, v in pairs[1:]]
    best_later = max(later) if f.greater_is_better else min(later)
    worse = first - best_later if f.greater_is_better else best_later - first
    steps = list(f.validation_steps or [])
    at_step0 = i0 < len(steps) and steps[i0] == 0
    if worse > OVERFIT_DROP * max(1.0, abs(first)):
        if _underfit(f) and not at_step0:   # never fitted: not over-fitting (a step-0 model's fit says nothing of training)
            return None
        return _spoiled(f, first, pairs[-1][1], at_step0)
    tie = ties(best_later, first)
    if not at_step0 or (worse < 0 and not tie):   # a later evaluation beat step 0
        return None
    how = "tied with it" if tie else "was slightly worse"
    return Diagnostic("best-at-first-eval", "warning",
                      f"validation {f.metric} did not improve on step 0, the model before any training step "
                      f"({first:.4f}): the best of the {len(later)} later evaluations {how} ({best_later:.4f})"
                      + _kept(f, tie),
                      "training hardly changed what the validation split measures: a learning rate too low or too "
                      "few steps for the part that trains, or a validation split too small to tell the models apart",
                      _more_epochs(f) + _lr_up(f, 3))


def _spoiled(f: RunFacts, first: float, last: float, at_step0: bool) -> Diagnostic:
    """The first evaluation was the best and every later one clearly worse."""
    epochs = max(1, int(np.ceil(f.validation_epochs[0]))) if f.validation_epochs else 1
    if at_step0:
        return Diagnostic("best-at-first-eval", "warning",
                          f"the best validation {f.metric} ({first:.4f}) came at step 0, before any training step; "
                          f"every later evaluation was worse (last {last:.4f})" + _kept(f),
                          "training only made the step-0 model (the solved head on frozen features) worse: a "
                          "learning rate too high for this body, over-fitting, or too little regularisation",
                          _lr_down(f, 3) + [f"train.epochs={epochs}", "optimizer.weight_decay=0.1"])
    at = f" (epoch {f.validation_epochs[0]:.2g})" if f.validation_epochs else ""
    return Diagnostic("best-at-first-eval", "warning",
                      f"the best validation {f.metric} ({first:.4f}) came at the first evaluation{at}; every later "
                      f"one was worse (last {last:.4f}): the model over-fitted",
                      "over-fitting: too many epochs, a learning rate too high, or too little regularisation",
                      [f"train.epochs={epochs}"] + _lr_down(f, 3) + ["optimizer.weight_decay=0.1"])


def _kept(f: RunFacts, tie: bool = False) -> str:
    """Which model the run hands back, as the end of a sentence ("" when the facts do not say)."""
    final = f.final_model or {}
    if final.get("training_discarded"):
        return (f"; the run hands back the step-0 model: its {final.get('steps_trained', '?')} training steps "
                "were discarded")
    step = final.get("step")
    if not step:
        return ""
    if tie and str(final.get("chosen_by", "")).startswith("best"):
        return (f"; the run hands back the trained model (step {step}: a tie goes to the later evaluation), "
                "though validation cannot tell it from the model before training")
    return f"; the run hands back the model of step {step} ({final.get('chosen_by', 'last step')})"


def _underfit(f: RunFacts) -> bool:
    """The model's training score is below the baseline's by more than :data:`UNDERFIT_MARGIN`."""
    if f.train_score is None or f.baseline_train_score is None:
        return False
    if not (np.isfinite(f.train_score) and np.isfinite(f.baseline_train_score)):
        return False
    margin = UNDERFIT_MARGIN * max(1.0, abs(f.baseline_train_score))
    gap = (f.baseline_train_score - f.train_score) if f.greater_is_better else (f.train_score - f.baseline_train_score)
    return gap > margin


def check_underfitting(f: RunFacts) -> Optional[Diagnostic]:
    if not _underfit(f) or check_collapsed(f) is not None:   # a collapsed model is reported as such
        return None
    if (f.final_model or {}).get("training_discarded"):   # the model scored never trained: best-at-first-eval says why
        return None
    vs = _vs_baseline(f)
    if vs and vs.get("better"):   # it already generalises better than the probe
        return None
    return Diagnostic("underfitting", "warning",
                      f"under-fitting: on its own training rows the model's {f.metric} is {f.train_score:.4f}, below "
                      f"the frozen baseline's {f.baseline_train_score:.4f}",
                      "the model did not fit even the training data as well as a linear model on the pre-trained "
                      "features: too few steps, a learning rate too low, or too much of the model frozen",
                      _more_epochs(f) + _lr_up(f, 3)
                      + (["strategy.name=full"] if f.strategy in ("freeze", "bitfit", "ia3", "linear-probe") else []))


CHECKS: list[Callable[[RunFacts], Optional[Diagnostic]]] = [
    check_below_baseline, check_collapsed, check_diverging, check_loss_not_falling, check_best_at_first_eval,
    check_underfitting]


def diagnose(facts: RunFacts) -> list[Diagnostic]:
    """Every check's finding, in :data:`CHECKS` order (an empty list for a healthy run)."""
    return [d for d in (check(facts) for check in CHECKS) if d is not None]


def format_diagnostic(d: dict) -> str:
    """One diagnostic (as in ``metrics.json``) as plain text: message, cause, what to try."""
    tries = " ".join(d.get("try", []))
    return f"{d['message']}. Likely cause: {d['cause']}." + (f" Try: {tries}" if tries else "")
