"""End-of-run diagnostics on a tiny BERT: a broken recipe is warned about (metrics.json, terminal,
report.html), a healthy one is not."""
import json

import pytest
import yaml

import tuneforge
from tuneforge.cli import main

from runs.conftest import text_recipe

FAST = {"evaluate.explain": 0, "evaluate.bootstrap": 200}


@pytest.fixture(scope="module")
def healthy(bert_dir, text_csv, tmp_path_factory):
    return tuneforge.finetune(text_recipe(bert_dir, text_csv, tmp_path_factory.mktemp("ok"), **FAST))


def test_healthy_run_has_no_diagnostics_and_a_verdict(healthy):
    m = healthy.metrics
    assert m["test"]["accuracy"] >= 0.9
    assert m["diagnostics"] == []
    assert m["vs_baseline"]["metric"] == "macro_f1" and not m["vs_baseline"]["worse"]
    assert m["train_sample"]["model"] >= 0.9 and m["train_sample"]["rows"] == m["data"]["sizes"]["train"]
    d = healthy.run_dir
    assert json.loads((d / "metrics.json").read_text())["diagnostics"] == []
    trace = [json.loads(line) for line in (d / "loss_trace.jsonl").read_text().splitlines()]
    assert [t["step"] for t in trace] == list(range(1, m["train"]["steps"] + 1))
    assert trace[-1]["loss"] < trace[0]["loss"]
    html = (d / "report.html").read_text()
    assert "Did fine-tuning help?" in html and "Diagnostics" not in html


def test_a_learning_rate_of_1e_9_is_warned_about_everywhere(bert_dir, text_csv, tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(text_recipe(bert_dir, text_csv, tmp_path / "runs", **FAST)))
    assert main(["run", str(recipe), "optimizer.lr=1e-9", "train.epochs=2", "strategy.warm_head=false"]) == 0
    out = capsys.readouterr().out
    (run,) = (tmp_path / "runs").iterdir()
    m = json.loads((run / "metrics.json").read_text())
    codes = {d["code"] for d in m["diagnostics"]}
    assert {"below-baseline", "collapsed", "loss-not-falling"} <= codes, codes
    assert m["vs_baseline"]["worse"] and m["test"]["macro_f1"] < m["baseline"]["macro_f1"]
    below = next(d for d in m["diagnostics"] if d["code"] == "below-baseline")
    assert "optimizer.lr=2e-05" in below["try"]
    flat = " ".join(out.split())                                        # rich wraps long lines
    assert "warning [below-baseline]" in flat and "try: optimizer.lr=2e-05" in flat
    assert "did fine-tuning help? No" in flat
    html = (run / "report.html").read_text()
    assert html.index("Diagnostics") < html.index("Did fine-tuning help?")
    assert "below-baseline" in html and "optimizer.lr=2e-05" in html


def test_k_fold_summary_shows_the_baseline_beside_the_model_and_each_folds_warnings(bert_dir, text_csv, tmp_path,
                                                                                     capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")                                 # the table fits without wrapping
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(text_recipe(bert_dir, text_csv, tmp_path / "runs", **FAST)))
    assert main(["run", str(recipe), "--folds", "2", "optimizer.lr=1e-9", "train.epochs=2", "strategy.warm_head=false"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    (parent,) = (tmp_path / "runs").iterdir()
    m = json.loads((parent / "metrics.json").read_text())
    assert {"folds_baseline", "folds_majority"} <= set(m) and m["folds_majority"]["accuracy"]["mean"] == 0.5
    assert m["vs_baseline"]["method"] == "paired t-test across 2 folds" and m["vs_baseline"]["difference"] < 0
    assert {d["fold"] for d in m["diagnostics"] if "fold" in d} == {1, 2}
    assert any(d["code"] == "collapsed" and d["message"].startswith("fold 1:") for d in m["diagnostics"])
    base = m["folds_baseline"]["macro_f1"]
    assert f"{base['mean']:.4f} ± {base['std']:.4f}" in out and "warning [collapsed] fold 2:" in out
    html = (parent / "report.html").read_text()
    assert "mean ± std over folds" in html and f"{base['mean']:.4f} ± {base['std']:.4f}" in html
    assert "Diagnostics" in html
