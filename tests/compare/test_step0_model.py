"""Which model a run hands back (docs/evaluation.md, "Which model a run hands back"): on a tie with step 0 the
trained model is kept and nothing calls it the step-0 model; when every later evaluation is worse, the run
hands back its step-0 model and metrics.json, the terminal, the run report, the compare leaderboard (terminal,
leaderboard.json, report) all say so in words, with the training time called discarded."""
import json

import yaml

import tuneforge
from tuneforge.cli import main
from tuneforge.modes.compare import leaderboard_cells, print_leaderboard
from tuneforge.runs.summary import print_summary
from tuneforge.training.evaluator import TrainingEvaluation
from rich.console import Console

from runs.conftest import text_recipe

FAST = {"train.epochs": 2, "evaluate.bootstrap": 50, "evaluate.explain": 0, "evaluate.baseline": False,
        "evaluate.attribution": False, "evaluate.top_losses": 0}


def _flat(text: str) -> str:
    return " ".join(text.split())   # rich wraps long lines


def test_a_tie_with_step_0_keeps_the_trained_model_and_nothing_says_step_0(bert_dir, text_csv, tmp_path):
    """optimizer.lr=1e-12 cannot move a prediction: every validation evaluation scores exactly what the solved
    head scored at step 0 (a tie), so the run hands back its last, trained weights."""
    result = tuneforge.finetune(text_recipe(bert_dir, text_csv, tmp_path / "runs", **FAST,
                                            **{"optimizer.lr": 1e-12, "strategy.name": "full"}))
    m, run = result.metrics, result.run_dir
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    scores = [h["validation"][m["monitor"]] for h in history]
    assert history[0]["step"] == 0 and len(set(scores)) == 1 and len(scores) == 3          # the constructed tie
    final = m["final_model"]
    assert final["step"] == final["steps_trained"] == m["train"]["steps"] > 0
    assert m["train"]["best_step"] == final["step"] and not final["is_step0"] and not final["training_discarded"]
    (d,) = [d for d in m["diagnostics"] if d["code"] == "best-at-first-eval"]
    assert "tied with it" in d["message"] and "hands back the trained model" in d["message"]
    console = Console(width=200, record=True)
    print_summary(console, m)
    text = console.export_text()
    assert "fine-tuned (full)" in text and "step-0" not in text and "discarded" not in text
    html = (run / "report.html").read_text()
    assert "Final model" not in html and "step-0 model" not in html
    assert f"step {final['step']} of {final['steps_trained']}, best validation" in html   # "model handed back"


def test_a_compared_strategy_that_hands_back_its_step_0_model_says_so_everywhere(bert_dir, text_csv, tmp_path,
                                                                                  capsys, monkeypatch):
    """Every validation evaluation of `full` after step 0 is made to score lower, so restore_best hands back
    the step-0 model (the solved head): its training is discarded, and every place that shows the run says so."""
    monkeypatch.setenv("COLUMNS", "250")
    real = TrainingEvaluation.__call__

    def worse_after_step_0(self):
        metrics = real(self)
        if self.trainer.state.step > 0 and self.trainer.recipe.strategy.name == "full":
            metrics = {**metrics, "macro_f1": metrics["macro_f1"] - 0.5}
        return metrics

    monkeypatch.setattr(TrainingEvaluation, "__call__", worse_after_step_0)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(text_recipe(bert_dir, text_csv, tmp_path / "out", **FAST)))
    assert main(["compare", str(recipe), "--strategies", "linear-probe,full"]) == 0
    out = _flat(capsys.readouterr().out)
    (folder,) = (tmp_path / "out").glob("compare-*")
    board = json.loads((folder / "leaderboard.json").read_text())
    rows = {r["strategy"]: r for r in board["rows"]}

    m = json.loads((folder / "runs").glob("*full*").__next__().joinpath("metrics.json").read_text())
    final = m["final_model"]                                                   # metrics.json
    assert final["step"] == 0 and final["is_step0"] and final["training_discarded"]
    assert final["steps_trained"] == m["train"]["steps"] > 0 and m["train"]["best_step"] == 0
    assert "every later validation evaluation scored worse on macro_f1 than step 0" in final["why"]
    assert f"the {final['steps_trained']} training steps" in final["why"] and "were discarded" in final["why"]
    (d,) = [d for d in m["diagnostics"] if d["code"] == "best-at-first-eval"]  # the diagnostic
    assert "came at step 0" in d["message"] and "hands back the step-0 model" in d["message"]

    assert "step-0 model (full: training discarded)" in out                   # the run's terminal summary
    assert "final model step 0, not the trained model: every later validation evaluation" in out
    assert "(discarded: the step-0 model was handed back)" in out             # its training seconds

    full, probe = rows["full"], rows["linear-probe"]                           # the leaderboard row
    assert full["step0_model"] == {"runs": 1, "of": 1, "training_discarded": True, "why": final["why"]}
    assert probe["step0_model"]["training_discarded"] is False                # the probe is step 0 by design
    cells = leaderboard_cells(board, full)
    assert cells[0] == "full (step-0 model)" and cells[-3] == f"{full['train_seconds']:.1f} discarded"
    assert leaderboard_cells(board, probe)[0] == "linear-probe (step-0 model)"
    assert "full (step-0 model)" in out and f"{full['train_seconds']:.1f} discarded" in out
    assert "warning full: hands back its step-0 model, not a trained one" in out
    assert "warning linear-probe" not in out

    run_html = (folder / "runs").glob("*full*").__next__().joinpath("report.html").read_text()   # the run report
    assert "Final model" in run_html and "step-0 model, not the trained one" in run_html
    assert "step-0 model (full: training discarded)" in run_html
    assert "the step-0 model, its training discarded" in run_html            # "model handed back" in the cost
    board_html = (folder / "report.html").read_text()                          # the comparison's report
    assert "full (step-0 model)" in board_html and "Training discarded" in board_html
    assert "full: hands back its step-0 model" in board_html


def test_a_leaderboard_without_step_0_models_says_nothing_of_them():
    from helpers.boards import synthetic_board

    board = synthetic_board()
    console = Console(width=200, record=True)
    print_leaderboard(console, board)
    assert "step-0" not in console.export_text() and "discarded" not in console.export_text()
