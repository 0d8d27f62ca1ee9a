"""report.html: written for every run, self-contained, rebuilt by `tuneforge report`, renders in Chromium."""
import json
import re
import shutil

from tuneforge.cli import main

from report.conftest import console_errors, render


def test_run_writes_report_tensorboard_and_every_evaluation_extra(full_run):
    d, m = full_run.run_dir, full_run.metrics
    for name in ("report.html", "test_outputs.npz", "explanations.json", "top_losses.json"):
        assert (d / name).is_file(), name
    assert list((d / "tensorboard").glob("events.out.tfevents.*"))
    scalars = {k for k, v in m["test"].items() if isinstance(v, float)}
    assert set(m["test_ci"]) == scalars and {"roc_auc", "pr_auc", "ece"} <= scalars
    for name, (lo, hi) in m["test_ci"].items():
        assert lo <= m["test"][name] + 1e-9 and m["test"][name] - 1e-9 <= hi or name in ("ece", "log_loss"), name
    assert m["test_curves"]["roc"] and m["test_curves"]["calibration"]["count"]
    assert "accuracy" in m["baseline_random_init"]
    assert 0 < m["retention"]["score"] < 1 and set(m["retention"]["cka"]) == {"embeddings", "encoder.layer.0",
                                                                               "encoder.layer.1"}
    explained = json.loads((d / "explanations.json").read_text())
    assert len(explained) == 2 and explained[0]["tokens"] and "score" in explained[0]["tokens"][0]
    attr = explained[0]["attribution"]   # Captum's integrated gradients over the same tokens
    assert attr["method"] == "integrated-gradients"
    assert [t["token"] for t in attr["tokens"]] == [t["token"] for t in explained[0]["tokens"]]
    worst = json.loads((d / "top_losses.json").read_text())
    losses = [r["loss"] for r in worst["examples"]]
    assert losses == sorted(losses, reverse=True) and all(r["text"] for r in worst["examples"])
    assert m["top_losses"] == "top_losses.json"


def test_report_is_self_contained_and_rebuilt_from_the_folder_alone(full_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(full_run.run_dir, copy, ignore=shutil.ignore_patterns("model", "checkpoints", "report.html"))
    assert main(["report", str(copy)]) == 0
    html = (copy / "report.html").read_text()
    assert not re.search(r"<script|<link|(src|href)=\"https?:", html)
    for heading in ("Did fine-tuning help?", "What did it cost?", "Training", "Test split in detail",
                    "Retention", "Strategy plan", "Why these predictions?", "integrated gradients",
                    "Where does it go wrong?", "Data"):
        assert heading in html, heading
    assert "random init" in html and "linear probe" in html


def test_report_renders_in_chromium_with_its_plots_and_no_console_errors(full_run):
    dom, log = render(full_run.run_dir / "report.html")
    images = re.findall(r'<img src="data:image/png;base64,', dom)
    assert len(images) >= 7      # learning curves, LRs, confusion, ROC, PR, reliability, CKA
    assert "Did fine-tuning help?" in dom
    assert console_errors(log) == []
