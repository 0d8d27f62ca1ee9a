"""Each diagnostic fires on a constructed case of its situation and stays silent on a healthy run."""
import numpy as np
import pytest

from tuneforge.evaluation.diagnostics import (
    Diagnostic, RunFacts, compare_to_baseline, diagnose, format_diagnostic, verdict)

N = 400


def _logits(pred: np.ndarray, k: int = 2, margin: float = 3.0) -> np.ndarray:
    out = np.zeros((len(pred), k))
    out[np.arange(len(pred)), pred] = margin
    return out


def _with_accuracy(y: np.ndarray, acc: float, seed: int) -> np.ndarray:
    """Predictions equal to ``y`` on a share ``acc`` of the rows (the others flipped)."""
    rng = np.random.default_rng(seed)
    wrong = rng.random(len(y)) > acc
    return np.where(wrong, 1 - y, y)


@pytest.fixture
def y():
    return np.arange(N) % 2


def _healthy(y) -> RunFacts:
    """A run that learned: beats its baseline, loss falls smoothly, validation improves, fits the train set."""
    steps = np.arange(60)
    return RunFacts(kind="classification", metric="macro_f1", greater_is_better=True, y_true=y,
                    outputs=_logits(_with_accuracy(y, 0.92, 0)), baseline_outputs=_logits(_with_accuracy(y, 0.80, 1)),
                    label_names=["neg", "pos"], losses=list(0.7 * np.exp(-steps / 20) + 0.05),
                    validation=[0.80, 0.86, 0.90], validation_epochs=[1, 2, 3], train_score=0.97,
                    baseline_train_score=0.95, lr=5e-5, epochs=3, strategy="full", resamples=300)


def _codes(facts) -> list[str]:
    return [d.code for d in diagnose(facts)]


def test_healthy_run_is_silent_and_the_verdict_says_yes(y):
    facts = _healthy(y)
    assert _codes(facts) == []
    assert facts.vs_baseline["better"] and facts.vs_baseline["difference"] > 0.05
    assert verdict(facts.vs_baseline).startswith("Yes")


def test_below_baseline_fires_when_significantly_worse_with_the_override(y):
    facts = _healthy(y)
    facts.outputs = _logits(_with_accuracy(y, 0.70, 2))
    (d,) = [d for d in diagnose(facts) if d.code == "below-baseline"]
    assert "macro_f1" in d.message and "p=" in d.message
    assert "strategy.name=lp-ft" in d.try_ and "optimizer.lr=5e-06" in d.try_
    assert facts.vs_baseline["worse"] and verdict(facts.vs_baseline).startswith("No")


def test_below_baseline_is_quiet_on_a_difference_within_noise(y):
    facts = _healthy(y)
    facts.outputs = _logits(_with_accuracy(y, 0.80, 1)[::-1].copy())   # same accuracy, other examples wrong
    facts.y_true = y[::-1].copy()
    facts.baseline_outputs = _logits(_with_accuracy(facts.y_true, 0.79, 3))
    assert "below-baseline" not in _codes(facts)
    assert verdict(facts.vs_baseline).startswith("Not shown")


def test_below_baseline_for_a_lower_is_better_metric(y):
    facts = _healthy(y)
    facts.kind, facts.metric, facts.greater_is_better = "regression", "mae", False
    rng = np.random.default_rng(0)
    target = rng.normal(size=N)
    facts.y_true, facts.label_names = target, None
    facts.outputs = target + rng.normal(scale=1.0, size=N)
    facts.baseline_outputs = target + rng.normal(scale=0.3, size=N)
    assert "below-baseline" in _codes(facts)
    facts.vs_baseline = None
    facts.outputs, facts.baseline_outputs = facts.baseline_outputs, facts.outputs
    assert "below-baseline" not in _codes(facts)


def test_below_baseline_without_outputs_uses_the_interval(y):
    facts = RunFacts(kind="classification", metric="accuracy", score=0.7, score_ci=[0.65, 0.75], baseline_score=0.8)
    assert _codes(facts) == ["below-baseline"]
    facts.baseline_score = 0.74
    assert _codes(facts) == []


def test_collapsed_to_one_class_fires(y):
    facts = _healthy(y)
    facts.outputs = _logits(np.ones(N, dtype=int))
    codes = _codes(facts)
    assert "collapsed" in codes and "below-baseline" in codes
    (d,) = [d for d in diagnose(facts) if d.code == "collapsed"]
    assert "'pos'" in d.message and "100%" in d.message and d.try_


def test_collapsed_is_quiet_when_the_data_really_are_one_sided():
    y = np.r_[np.zeros(390, dtype=int), np.ones(10, dtype=int)]          # 97.5% one class
    pred = y.copy()
    pred[:5] = 1                                                           # 96% predicted class 0, but it is right
    facts = RunFacts(kind="classification", metric="macro_f1", y_true=y, outputs=_logits(pred))
    assert "collapsed" not in _codes(facts)


def test_collapsed_regression_constant_predictions():
    rng = np.random.default_rng(0)
    y = rng.normal(10, 2, size=N)
    facts = RunFacts(kind="regression", metric="r2", y_true=y, outputs=np.full(N, 10.0) + rng.normal(0, 0.01, N))
    assert _codes(facts) == ["collapsed"]
    facts.outputs = y + rng.normal(0, 0.5, N)
    assert _codes(facts) == []


def test_loss_not_falling_fires_and_suggests_a_higher_lr(y):
    facts = _healthy(y)
    facts.losses = list(0.69 + 0.01 * np.random.default_rng(0).normal(size=50))
    (d,) = [d for d in diagnose(facts) if d.code == "loss-not-falling"]
    assert d.try_[0] == "optimizer.lr=0.0005" and "train.epochs=6" in d.try_
    assert "diverging" not in _codes(facts)


def test_diverging_fires_on_a_rising_loss_and_on_a_loss_that_gives_back_its_gains(y):
    facts = _healthy(y)
    facts.losses = list(np.linspace(0.7, 2.5, 40))
    (d,) = [d for d in diagnose(facts) if d.code == "diverging"]
    assert "optimizer.lr=5e-06" in d.try_
    facts.losses = list(np.r_[np.linspace(0.7, 0.1, 30), np.linspace(0.1, 0.6, 30)])   # down, then back up
    assert "diverging" in _codes(facts) and "loss-not-falling" not in _codes(facts)


def test_loss_checks_need_enough_steps(y):
    facts = _healthy(y)
    facts.losses = [0.7, 0.7, 0.8, 0.9]
    assert _codes(facts) == []


def test_best_at_first_eval_fires_on_over_fitting(y):
    facts = _healthy(y)
    facts.validation = [0.90, 0.85, 0.82, 0.80]
    (d,) = [d for d in diagnose(facts) if d.code == "best-at-first-eval"]
    assert "train.epochs=1" in d.try_ and "optimizer.lr=2e-05" in d.try_
    facts.validation = [0.90, 0.899, 0.9]          # a plateau within OVERFIT_DROP is not over-fitting
    assert "best-at-first-eval" not in _codes(facts)
    facts.validation = [0.3, 0.35, 0.6]            # lower is better (a loss): falling is healthy
    facts.greater_is_better = False
    facts.vs_baseline = {"worse": False}           # (not what this test is about)
    assert "best-at-first-eval" in _codes(facts)
    facts.validation = [0.6, 0.35, 0.3]
    assert "best-at-first-eval" not in _codes(facts)


KEPT_TRAINED = {"step": 18, "steps_trained": 18, "chosen_by": "best validation (train.restore_best)",
                "is_step0": False, "training_discarded": False}
KEPT_STEP0 = {**KEPT_TRAINED, "step": 0, "is_step0": True, "training_discarded": True}


def test_best_at_first_eval_names_a_tie_with_step_0_and_the_model_kept(y):
    facts = _healthy(y)
    facts.validation, facts.validation_steps, facts.final_model = [0.90, 0.90, 0.90], [0, 9, 18], KEPT_TRAINED
    (d,) = [d for d in diagnose(facts) if d.code == "best-at-first-eval"]
    assert "did not improve on step 0" in d.message and "tied with it (0.9000)" in d.message
    assert "hands back the trained model (step 18: a tie goes to the later evaluation)" in d.message
    assert "over-fitted" not in d.message and d.try_[0] == "train.epochs=6" and d.try_[1].startswith("optimizer.lr=")
    facts.validation, facts.final_model = [0.90, 0.899, 0.898], KEPT_STEP0   # a small fall: step 0 kept
    (d,) = [d for d in diagnose(facts) if d.code == "best-at-first-eval"]
    assert "was slightly worse (0.8990)" in d.message
    assert "hands back the step-0 model: its 18 training steps were discarded" in d.message
    facts.validation = [0.3, 0.3]   # lower is better: the same tie
    facts.greater_is_better, facts.vs_baseline, facts.final_model = False, {"worse": False}, KEPT_TRAINED
    assert "tied with it" in [d for d in diagnose(facts) if d.code == "best-at-first-eval"][0].message


def test_best_at_first_eval_is_quiet_when_training_beat_step_0_or_the_first_evaluation_is_trained(y):
    facts = _healthy(y)
    facts.validation, facts.validation_steps, facts.final_model = [0.90, 0.91, 0.90], [0, 9, 18], KEPT_TRAINED
    assert "best-at-first-eval" not in _codes(facts)
    facts.validation, facts.validation_steps = [0.90, 0.90, 0.90], [9, 18, 27]   # a plateau after training
    assert "best-at-first-eval" not in _codes(facts)


def test_best_at_first_eval_at_step_0_says_training_only_spoiled_the_step_0_model(y):
    facts = _healthy(y)
    facts.validation, facts.validation_steps, facts.final_model = [0.90, 0.85, 0.80], [0, 9, 18], KEPT_STEP0
    (d,) = [d for d in diagnose(facts) if d.code == "best-at-first-eval"]
    assert "came at step 0, before any training step" in d.message and "training steps were discarded" in d.message
    assert "solved head" in d.cause and d.try_[0].startswith("optimizer.lr=")


def test_underfitting_fires_when_the_train_score_is_below_the_baselines(y):
    facts = _healthy(y)
    facts.strategy, facts.train_score, facts.baseline_train_score = "freeze", 0.70, 0.98
    facts.outputs = _logits(_with_accuracy(y, 0.70, 2))         # on test, worse than the baseline
    (d,) = [d for d in diagnose(facts) if d.code == "underfitting"]
    assert "0.7000" in d.message and "0.9800" in d.message and "strategy.name=full" in d.try_
    (below,) = [d for d in diagnose(facts) if d.code == "below-baseline"]   # same cause, named there too
    assert "training rows" in below.cause and below.try_ == ["strategy.name=lp-ft", "train.epochs=6"]
    facts.train_score = 0.95                       # within UNDERFIT_MARGIN
    assert "underfitting" not in _codes(facts)


def test_underfitting_is_quiet_when_the_model_beats_the_baseline_on_test(y):
    facts = _healthy(y)                            # significantly better than the probe on test...
    facts.train_score, facts.baseline_train_score = 0.90, 1.0   # ...though the probe fits its train rows better
    assert _codes(facts) == []
    facts.outputs, facts.vs_baseline = _logits(_with_accuracy(y, 0.80, 1)), None   # no better on test: say it
    assert _codes(facts) == ["underfitting"]


def test_missing_facts_keep_every_check_quiet():
    assert diagnose(RunFacts(kind="classification", metric="macro_f1")) == []


def test_diagnostic_round_trips_and_formats():
    d = Diagnostic("collapsed", "warning", "all one class", "lr too high", ["optimizer.lr=1e-05"])
    assert Diagnostic.from_dict(d.to_dict()) == d and d.to_dict()["try"] == ["optimizer.lr=1e-05"]
    assert format_diagnostic(d.to_dict()).endswith("Try: optimizer.lr=1e-05")


def test_compare_to_baseline_orients_the_difference():
    rng = np.random.default_rng(0)
    y = rng.normal(size=N)
    good, bad = y + rng.normal(0, 0.2, N), y + rng.normal(0, 1.0, N)
    res = compare_to_baseline("regression", "mae", False, y, good, bad, resamples=300)
    assert res["difference"] < 0 and res["better"] and not res["worse"]


def test_a_loss_that_explodes_then_settles_high_is_diverging_and_lr_suggestions_stay_usable(y):
    facts = _healthy(y)
    facts.lr = 3.0
    facts.losses = [0.69, 4.8, 8.9, 20.1, 21.2, 8.9, 40.5, 60.1, 27.8, 6.3, 11.1, 27.0, 18.3, 7.1, 16.4, 11.5,
                    4.2, 9.9, 5.9, 6.5, 11.8, 4.8, 4.6, 4.4, 1.4, 2.7, 4.9, 4.5, 4.6, 8.4]   # lr=3 on the tiny BERT
    (d,) = [d for d in diagnose(facts) if d.code == "diverging"]
    assert d.try_[0] == "optimizer.lr=0.001"                     # /10 would be 0.3: capped at LR_CEILING
    facts.lr, facts.losses = 1e-9, [0.693] * 30
    (d,) = [d for d in diagnose(facts) if d.code == "loss-not-falling"]
    assert d.try_[0] == "optimizer.lr=2e-05"                     # x10 would be 1e-08: raised to LR_FLOOR


def test_a_loss_that_stays_at_guessing_level_is_not_falling_even_if_it_dips_5_percent(y):
    facts = _healthy(y)
    noise = 0.05 * np.random.default_rng(0).normal(size=50)
    facts.losses = list(np.linspace(1.10, 1.04, 50) + noise)        # lr=5e-3 on the real MiniLM: ~ln(3) throughout
    facts.prior_loss = 1.02                                          # entropy of the training class frequencies
    (d,) = [d for d in diagnose(facts) if d.code == "loss-not-falling"]
    assert d.try_[0] == "optimizer.lr=0.0005"                       # lr 5e-5 is low: raise it
    facts.lr = 5e-3                                                  # the real run's lr: too high for the body
    (d,) = [d for d in diagnose(facts) if d.code == "loss-not-falling"]
    assert "collapsed" in d.cause and d.try_ == ["optimizer.lr=5e-05", "strategy.name=lp-ft"]
    facts.losses = list(np.linspace(1.10, 0.60, 50) + noise)        # learning: well below the prior's loss
    assert "loss-not-falling" not in _codes(facts)


def test_a_collapsed_model_is_reported_as_collapsed_not_as_over_or_under_fitting(y):
    facts = _healthy(y)
    facts.outputs = _logits(np.zeros(N, dtype=int))
    facts.validation, facts.train_score, facts.baseline_train_score = [0.33, 0.32, 0.31], 0.33, 0.84
    codes = _codes(facts)
    assert "collapsed" in codes and "best-at-first-eval" not in codes and "underfitting" not in codes
