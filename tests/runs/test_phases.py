"""Where a run's time goes: phases in metrics.json and the summary, and honest labels after --resume."""
import json
import time
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console

from toy import Crash
from tuneforge.cli import main
from tuneforge.recipe import load_recipe
from tuneforge.runs.hooks import RunHooks
from tuneforge.runs.phases import PhaseClock, phases_line, seconds_since_process_start
from tuneforge.runs.pipeline import run
from tuneforge.runs.summary import print_summary

from runs.conftest import text_recipe

PIPELINE_PHASES = {"data preparation", "model loading", "setup", "baselines", "training", "evaluation", "export",
                   "diagnostics", "report"}


def test_laps_cover_the_whole_time_and_add_up():
    clock = PhaseClock(already=0.5)
    time.sleep(0.02)
    assert clock.lap("a") >= 0.02
    clock.lap("b")
    time.sleep(0.01)
    clock.lap("a")
    assert list(clock.phases) == ["start-up", "a", "b"] and clock.phases["start-up"] == 0.5
    assert clock.phases["a"] >= 0.03
    assert sum(clock.phases.values()) == pytest.approx(clock.total, abs=1e-3)
    assert phases_line({"start-up": 1.94, "tiny": 0.01, "training": 12.0}) == "start-up 1.9s, training 12.0s"


def test_process_start_is_before_this_test():
    seconds = seconds_since_process_start()
    if seconds is None:
        pytest.skip("no /proc/self/stat on this system")
    assert seconds > 0.5  # the interpreter, pytest and torch imports ran before this line
    assert PhaseClock.from_process_start().phases["start-up"] >= seconds


def test_summary_of_an_uninterrupted_run_has_plain_labels_and_the_phases():
    console = Console(record=True, width=300)
    print_summary(console, {"columns": {"summary": ["accuracy"]}, "model": "m", "task": "t", "strategy": {"name": "full"},
                            "test": {"accuracy": 0.8}, "data": {"sizes": {"test": 10}}, "seconds_total": 9.04,
                            "resumed": False, "run_dir": "/tmp/x", "phases": {"start-up": 2.0, "training": 7.04},
                            "train": {"seconds": 7.0, "samples_per_second": 10.0, "trainable_parameters": 5,
                                      "total_parameters": 10, "peak_memory_mb": 100.0}})
    text = console.export_text()
    assert "training 7.0s, 10.0 samples/s" in text and "total 9.0s\n" in text.replace(" \n", "\n")
    assert "time start-up 2.0s, training 7.0s" in text


def test_resumed_cli_run_records_its_phases_and_labels_which_process_each_time_covers(bert_dir, text_csv,
                                                                                       tmp_path, monkeypatch):
    """One end-to-end test for all three (two short runs of the tiny BERT: ~15 s on a busy 2-core CPU).

    Also: the diagnostics reuse the pipeline's outputs on the evaluation split (here validation)
    instead of predicting it a second time."""
    import tuneforge.analysis.diagnose as diagnose
    import tuneforge.training.evaluator as evaluator
    predicted, real = [], diagnose._model_outputs
    monkeypatch.setattr(diagnose, "_model_outputs", lambda p, enc, *a: predicted.append(enc) or real(p, enc, *a))
    passes, predict = [], evaluator.predict_outputs
    monkeypatch.setattr(evaluator, "predict_outputs",
                        lambda m, enc, *a, **k: passes.append(len(enc)) or predict(m, enc, *a, **k))
    r = text_recipe(bert_dir, text_csv, tmp_path / "runs", **{"train.epochs": 1, "train.save_every_steps": 2,
                                                          "evaluate.baseline": False, "data.test": None,
                                                          "train.restore_best": False})
    with pytest.raises(KeyboardInterrupt):
        run(load_recipe(r), Console(quiet=True), quiet=True, hooks=RunHooks(callbacks=[Crash(4)]))
    (folder,) = (tmp_path / "runs").iterdir()
    passes.clear()  # count the resumed process's passes over validation only
    console = Console(record=True, width=300)
    import tuneforge.cli as cli
    original = cli.Console
    cli.Console = lambda *a, **k: console  # capture the summary the command prints
    try:
        assert main(["run", "--resume", str(folder), "--quiet"]) == 0
    finally:
        cli.Console = original
    m = json.loads((folder / "metrics.json").read_text())
    t = m["train"]
    assert m["resumed"] is True
    assert 0 < t["seconds_this_process"] < t["seconds"]  # the killed process's steps count in train.seconds
    assert t["seconds_this_process"] <= m["phases"]["training"]  # steps only; the phase adds evaluation, saving
    phases = m["phases"]
    assert PIPELINE_PHASES | {"start-up"} <= set(phases)
    assert all(s >= 0 for s in phases.values())
    assert phases["start-up"] > 0.5  # this pytest process started seconds ago
    assert sum(phases.values()) == pytest.approx(m["seconds_total"], abs=0.01)
    text = console.export_text()
    assert f"training {t['seconds']:.1f}s (all processes of this run; this process " \
           f"{t['seconds_this_process']:.1f}s)" in text
    assert f"total {m['seconds_total']:.1f}s (this process)" in text
    assert predicted == [] and isinstance(m["diagnostics"], list) and m["data"]["sizes"].get("test") is None
    history = [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()]
    n_val = m["data"]["sizes"]["validation"]
    assert passes.count(n_val) == 1  # the resumed process's epoch-end evaluation, reused as the final one
    assert m["validation"]["accuracy"] == history[-1]["validation"]["accuracy"]
    assert "time start-up" in text and "training" in text.split("time start-up")[1]


def test_step_zero_validation_applies_the_solved_head_to_the_features_it_was_solved_on(bert_dir, text_csv, tmp_path,
                                                                                      monkeypatch):
    """The head is solved on the frozen body's validation features, which are its inputs: step 0's
    evaluation is one matrix product on them (checked on a few rows), not a second pass over the split,
    and it scores what the pass would have."""
    import tuneforge.training.evaluator as evaluator
    passes, predict = [], evaluator.predict_outputs

    def spy(m, enc, *a, rows=None, **k):
        passes.append(len(enc) if rows is None else len(rows))
        return predict(m, enc, *a, rows=rows, **k)

    monkeypatch.setattr(evaluator, "predict_outputs", spy)
    over = {"train.epochs": 1, "evaluate.baseline": False, "data.test": None, "evaluate.report": False,
            "train.restore_best": False}
    histories = []
    for shortcut in (True, False):
        if not shortcut:
            monkeypatch.setattr(evaluator.TrainingEvaluation, "_from_solved_head", lambda self: None)
        passes.clear()
        out = tmp_path / f"runs-{shortcut}"
        result = run(load_recipe(text_recipe(bert_dir, text_csv, out, **over)), Console(quiet=True), quiet=True)
        folder = result.run_dir
        assert json.loads((folder / "plan.json").read_text())[0]["head_solution"]["C"] > 0   # the head was solved
        n_val = result.metrics["data"]["sizes"]["validation"]
        histories.append([json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()])
        if shortcut:   # a few rows checked at step 0, one full pass after the epoch (reused as the final one)
            assert passes == [evaluator.CHECK_ROWS, n_val]
        else:
            assert passes == [n_val, n_val]
    (fast, *_), (full, *_) = histories
    assert fast["step"] == full["step"] == 0
    for key, value in full["validation"].items():
        assert fast["validation"][key] == pytest.approx(value, abs=1e-4), key
    assert histories[0][-1]["train_loss"] == pytest.approx(histories[1][-1]["train_loss"], rel=1e-5)


def test_report_cost_section_lists_the_phases_and_labels_a_resumed_run():
    from tuneforge.report.sections import cost

    html = cost({"train": {"seconds": 63.0, "seconds_this_process": 40.1}, "resumed": True, "seconds_total": 42.2,
                 "phases": {"start-up": 2.0, "training": 40.1}})
    assert "training time, all processes (s)</td><td>63" in html and "training time, this process (s)" in html
    assert "whole process (s)</td><td>42.2" in html and "· start-up (s)</td><td>2" in html
    plain = cost({"train": {"seconds": 7.0}, "resumed": False, "seconds_total": 9.0})
    assert "training time (s)</td><td>7" in plain and "this process" not in plain and "whole run (s)" in plain


class _Evaluator:
    scaler = None

    def __init__(self):
        self.calls = 0

    def outputs(self, model):
        self.calls += 1
        return np.full((2, 2), float(self.calls))

    def metrics(self, outputs):
        return {"accuracy": float(outputs[0, 0])}


def _trainer(step, best_step, restore_best):
    return SimpleNamespace(state=SimpleNamespace(step=step, best_step=best_step),
                           recipe=SimpleNamespace(train=SimpleNamespace(restore_best=restore_best)))


@pytest.mark.parametrize("step, best_step, restore_best, merged, scaler, reused", [
    (10, 10, True, False, None, True),    # ended on an evaluation that was also the best
    (10, 4, False, False, None, True),    # no restore: the last weights are final
    (10, 4, True, False, None, False),    # best weights of step 4 restored: evaluate again
    (12, 12, True, False, None, False),   # steps after the last evaluation
    (10, 10, True, True, None, False),    # an adapter merged into the weights
    (10, 10, True, False, "std", False),  # outputs de-standardised, the final model predicts units itself
])
def test_final_validation_reuses_the_last_evaluation_only_when_the_model_is_unchanged(step, best_step, restore_best,
                                                                                    merged, scaler, reused):
    from tuneforge.training.evaluator import TrainingEvaluation

    evaluator = _Evaluator()
    evaluator.scaler = scaler
    trainer = _trainer(10, best_step, restore_best)
    ev = TrainingEvaluation(evaluator, model=None, trainer=trainer)
    assert ev() == {"accuracy": 1.0}
    trainer.state.step = step
    out = ev.final_outputs(merged)
    assert (out is not None) == reused and evaluator.calls == 1
    if reused:
        assert out[0, 0] == 1.0
