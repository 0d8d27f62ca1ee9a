"""Search studies built trial by trial (``optuna.trial.create_trial``) with the attributes the search writes,
for tests of what shows a study: the report, trials.csv, the dashboard."""
from __future__ import annotations

from typing import Optional

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

DISTRIBUTIONS = {"strategy.name": CategoricalDistribution(["full", "lora", "freeze"]),
                 "optimizer.lr": FloatDistribution(1e-5, 1e-2, log=True),
                 "strategy.top_blocks": IntDistribution(1, 6)}

LONG_ERROR = ("RuntimeError: CUDA out of memory while training trial 3 at "
              "/home/someone/projects/a/very/long/path/to/the/study/trials/0003/checkpoints/model.safetensors")


def _trial(state, params, value=None, values=None, curve=None, **attrs):
    return create_trial(state=state, value=value, values=values, params=params,
                        distributions={k: DISTRIBUTIONS[k] for k in params},
                        user_attrs=attrs, intermediate_values=curve or {})


def _attrs(strategy, lr, blocks, number, seconds):
    return dict(strategy=strategy, lr=lr, blocks_trained=blocks, trainable_parameters=1000 * (blocks + 1),
                seconds=seconds, steps=30, trial_dir=f"trials/{number:04d}", validation={"macro_f1": 0.0})


def single_objective_study(storage: Optional[str] = None, name: str = "tiny-search") -> optuna.Study:
    """Six trials: three complete (full, lora, freeze), one pruned at step 20, one failed, one interrupted.
    Trial 1 (lora) is best with 0.72; trial 4 (freeze, 0.70) is the runner-up."""
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    study.set_user_attr("objectives", ["validation.macro_f1:max"])
    study.set_user_attr("monitor", "macro_f1")
    study.add_trial(_trial(TrialState.COMPLETE, {"strategy.name": "full", "optimizer.lr": 1e-4}, value=0.65,
                           curve={10: 0.5, 20: 0.6, 30: 0.65}, **_attrs("full", 1e-4, 6, 0, 12.5)))
    study.add_trial(_trial(TrialState.COMPLETE, {"strategy.name": "lora", "optimizer.lr": 1.5e-3}, value=0.72,
                           curve={10: 0.55, 20: 0.7, 30: 0.72}, **_attrs("lora", 1.5e-3, 6, 1, 9.0)))
    study.add_trial(_trial(TrialState.PRUNED, {"strategy.name": "freeze", "optimizer.lr": 3e-5,
                                               "strategy.top_blocks": 2},
                           curve={10: 0.3, 20: 0.35}, **_attrs("freeze", 3e-5, 2, 2, 4.0)))
    study.add_trial(_trial(TrialState.FAIL, {"strategy.name": "full", "optimizer.lr": 5e-3}, error=LONG_ERROR))
    study.add_trial(_trial(TrialState.COMPLETE, {"strategy.name": "freeze", "optimizer.lr": 2e-4,
                                                 "strategy.top_blocks": 4}, value=0.70,
                           curve={10: 0.6, 20: 0.68, 30: 0.70}, **_attrs("freeze", 2e-4, 4, 4, 7.0)))
    study.add_trial(_trial(TrialState.FAIL, {"strategy.name": "lora", "optimizer.lr": 1e-3}, interrupted=True))
    return study


def two_objective_study(storage: Optional[str] = None) -> optuna.Study:
    """Macro-F1 (max) against training seconds (min): trials 0, 1 and 3 are the Pareto front, 2 is dominated
    by 1, trial 4 was pruned."""
    study = optuna.create_study(study_name="tradeoff", storage=storage, directions=["maximize", "minimize"])
    study.set_user_attr("objectives", ["validation.macro_f1:max", "train.seconds:min"])
    study.set_user_attr("monitor", "macro_f1")
    for number, (strategy, f1, secs) in enumerate([("full", 0.74, 30.0), ("lora", 0.71, 10.0),
                                                   ("freeze", 0.69, 12.0), ("freeze", 0.60, 3.0)]):
        study.add_trial(_trial(TrialState.COMPLETE, {"strategy.name": strategy, "optimizer.lr": 1e-4},
                               values=[f1, secs], curve={10: f1 - 0.1, 20: f1},
                               **_attrs(strategy, 1e-4, 3, number, secs)))
    study.add_trial(_trial(TrialState.PRUNED, {"strategy.name": "lora", "optimizer.lr": 1e-2}, curve={10: 0.2},
                           **_attrs("lora", 1e-2, 3, 4, 2.0)))
    return study


def final_summary(best_number: int = 1) -> dict:
    """``search.json`` content for :func:`single_objective_study` with a final run on the test split."""
    return {"study": "tiny-search", "storage": "sqlite:///study.db", "objectives": ["validation.macro_f1:max"],
            "counts": {"complete": 3, "pruned": 1, "failed": 2},
            "best": {"number": best_number, "values": [0.72], "params": {"strategy.name": "lora"},
                     "recipe": "best.yaml"},
            "importances": {"optimizer.lr": 0.62, "strategy.name": 0.3, "strategy.top_blocks": 0.08},
            "final": {"run_dir": "best", "validation": {"macro_f1": 0.73, "accuracy": 0.75},
                      "test": {"macro_f1": 0.7012, "accuracy": 0.7321, "log_loss": 0.61},
                      "test_ci": {"macro_f1": [0.6512, 0.7499], "accuracy": [0.6802, 0.7801]},
                      "baseline": {"macro_f1": 0.5511, "accuracy": 0.6012, "log_loss": 0.93}},
            "seconds": 42.5, "memory_mb": [1200.4, 1230.9, 1228.0, 1241.2, 1240.0, 1239.5]}
