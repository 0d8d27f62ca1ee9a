"""Retention by default (evaluate.retention unset): linear CKA of pre-trained vs fine-tuned pooled features on the
test split, 1 for an unchanged body, lower after full fine-tuning (restore_best off: the solved head at step 0 would
otherwise win on this toy task and bring the pre-trained body back), the same whether the pre-trained features come
from the baseline's cache or from a freshly loaded pre-trained copy."""
import pytest

import tuneforge
from tuneforge.analysis.default_retention import MEASURE, PROBE_SIZE

from runs.conftest import text_recipe


def _run(bert_dir, text_csv, out, **over):
    return tuneforge.finetune(text_recipe(bert_dir, text_csv, out, **{
        "train.epochs": 1, "train.restore_best": False, "evaluate.bootstrap": 0, "evaluate.explain": 0,
        "output.trackers": [], **over}), quiet=True)


@pytest.fixture(scope="module")
def runs(bert_dir, text_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return {"probe": _run(bert_dir, text_csv, out, **{"strategy.name": "linear-probe"}),
            "full": _run(bert_dir, text_csv, out, **{"strategy.name": "full"}),
            "full, no baseline": _run(bert_dir, text_csv, out, **{"strategy.name": "full", "evaluate.baseline": False})}


def test_an_unchanged_body_retains_everything_and_full_fine_tuning_less(runs):
    probe, full = runs["probe"].metrics["retention"], runs["full"].metrics["retention"]
    for r in (probe, full):
        assert r["default"] is True and r["measure"] == MEASURE and r["meaning"]
        assert r["probe_examples"] == min(PROBE_SIZE, runs["full"].metrics["data"]["sizes"]["test"])
        assert r["probe_source"] == "test split"
    assert probe["score"] == pytest.approx(1.0, abs=1e-5)
    assert full["score"] < 0.99 and full["score"] < probe["score"]


def test_without_the_baselines_features_a_pretrained_copy_gives_the_same_score(runs):
    cached, fresh = runs["full"].metrics["retention"], runs["full, no baseline"].metrics["retention"]
    assert runs["full, no baseline"].metrics["baseline"] == {}
    assert fresh["score"] == pytest.approx(cached["score"], abs=1e-4)


def test_summary_and_report_say_what_the_number_measures(runs):
    from tuneforge.runs.summary import retention_line

    r = runs["full"].metrics["retention"]
    assert retention_line(r).startswith(f"[bold]retention[/bold] {r['score']:.3f} ({MEASURE}")
    html = (runs["full"].run_dir / "report.html").read_text()
    assert "how far did the features move?" in html and MEASURE in html
