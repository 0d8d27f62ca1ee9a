"""A search study's report.html and trials.csv: the sections a study calls for, from studies with complete,
pruned, failed and interrupted trials, two objectives, and the degenerate cases (nothing finished, only
failures, one trial, no importances, no final run)."""
import csv
import html as htmllib
import re

import optuna
import pytest
from matplotlib.colors import to_hex
from optuna.trial import TrialState, create_trial

from tuneforge.search.study_figures import intermediate_curves_figure, pareto_figure
from tuneforge.search.study_report import write_study_report
from tuneforge.search.study_tables import objectives, table_columns, trials_table_rows, write_trials_csv

from helpers.studies import DISTRIBUTIONS, LONG_ERROR, final_summary, single_objective_study, two_objective_study
from report.test_report_width import CELL_PADDING_PX, CHAR_PX, CONTENT_PX

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _section(page: str, title: str) -> str:
    """The HTML of the section headed ``title`` (fails the test when there is none)."""
    assert f"<h2>{title}</h2>" in page, f"no section {title!r}"
    return page.split(f"<h2>{title}</h2>", 1)[1].split("</section>", 1)[0]


def _text(fragment: str) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


@pytest.fixture
def single(tmp_path):
    (tmp_path / "best").mkdir()
    (tmp_path / "best" / "report.html").write_text("<html></html>")
    (tmp_path / "best.yaml").write_text("model: {name: tiny}\n")
    (tmp_path / "trials" / "0001").mkdir(parents=True)
    (tmp_path / "trials" / "0001" / "report.html").write_text("<html></html>")
    study = single_objective_study()
    return tmp_path, study, write_study_report(tmp_path, study, final_summary()).read_text()


def test_single_objective_report_has_every_section(single):
    _, _, page = single
    for title in ("Best recipe", "Why the best won", "Trials", "Optimisation history", "Validation curves",
                  "Parameter importances", "Validation score vs blocks trained", "Files"):
        _section(page, title)
    assert "<h2>Pareto front</h2>" not in page
    assert "http://" not in page and "https://" not in page and "<script" not in page   # self-contained
    for title, figures in (("Optimisation history", 1), ("Validation curves", 1), ("Parameter importances", 1),
                           ("Validation score vs blocks trained", 1)):
        assert _section(page, title).count('src="data:image/png;base64,') == figures, title


def test_headline_shows_best_trial_test_metrics_with_intervals_beside_baseline(single):
    study_dir, _, page = single
    best = _section(page, "Best recipe")
    text = _text(best)
    assert "Best: trial 1" in text and "lora" in text and "0.7200" in text
    assert "6 trials: 3 complete, 1 pruned, 1 failed, 1 interrupted" in text
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", best)
    probe = next(_text(r) for r in rows if "linear probe" in r)
    final = next(_text(r) for r in rows if "final run" in r)
    assert "0.5511" in probe and "0.6012" in probe
    assert "0.7012 [0.6512, 0.7499]" in final and "0.7321 [0.6802, 0.7801]" in final
    assert 'href="best/report.html"' in best and 'href="best.yaml"' in best
    assert f"tuneforge run {study_dir / 'best.yaml'}" in text
    files = _text(_section(page, "Files"))
    assert "best.yaml : the winning recipe" in files and "optuna-dashboard sqlite:///study.db" in files
    assert "from 1,200 MB to 1,240 MB (peak 1,241 MB)" in files


def test_why_the_best_won_names_the_margins_and_the_important_parameter(single):
    text = _text(_section(single[2], "Why the best won"))
    assert "Trial 1 (lora" in text
    assert "0.0200 better than the runner-up (trial 4, freeze)" in text
    assert "optimizer.lr explained the most" in text and "62%" in text


def test_trials_table_lists_each_state_and_why(single):
    trials = _section(single[2], "Trials")
    rows = {int(re.search(r">(\d+)<", r).group(1)) if "href" in r else int(_text(r).split()[0]): _text(r)
            for r in re.findall(r"<tr[^>]*>(.*?)</tr>", trials)[1:]}
    assert sorted(rows) == [0, 1, 2, 3, 4, 5]
    assert "pruned at step 20" in rows[2] and "strategy.top_blocks = 2" in rows[2]
    assert rows[3].startswith("3 failed") and "CUDA out of memory" in rows[3]
    assert "interrupted" in rows[5]
    assert "complete" in rows[1] and "0.7200" in rows[1]
    assert re.search(r'<tr class="best"><td><a href="trials/0001/report.html">1</a>', trials)


def test_trials_table_fits_the_page(single):
    """Same measure as the comparison leaderboard: the narrowest layout (cells wrapped at every space, <br>
    and <wbr>) fits the content width, even with a long error path."""
    trials = _section(single[2], "Trials").replace("<br>", " ").replace("<wbr>", " ")
    rows = [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr) for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", trials)]
    words = [[max([len(w) for w in htmllib.unescape(re.sub("<[^>]+>", " ", c)).split()] or [0]) for c in r]
             for r in rows]
    narrowest = sum(CHAR_PX * max(col) + CELL_PADDING_PX for col in zip(*words))
    assert narrowest < CONTENT_PX, f"{narrowest:.0f} px of unbreakable content for {CONTENT_PX} px"
    assert "/home/someone/projects/a/very/long/path" in LONG_ERROR  # the long word really is in the table
    assert "someone/<wbr>projects" in _section(single[2], "Trials")


def test_pruned_trials_partial_curves_are_drawn_dashed_grey():
    study = single_objective_study()
    fig = intermediate_curves_figure(study.trials, "macro_f1", best_number=1)
    lines = {line.get_gid(): line for line in fig.axes[0].lines if line.get_gid()}
    assert set(lines) == {"trial 0", "trial 1", "trial 2", "trial 4"}       # failed trials reported nothing
    pruned = lines["trial 2"]
    assert list(pruned.get_xdata()) == [10, 20] and list(pruned.get_ydata()) == [0.3, 0.35]
    assert pruned.get_linestyle() == "--" and to_hex(pruned.get_color()) == "#9aa0ab"
    assert lines["trial 0"].get_linestyle() == "-"
    assert lines["trial 1"].get_linewidth() > lines["trial 0"].get_linewidth()   # the best stands out


def test_blocks_section_lists_best_score_per_strategy_and_block_count(single):
    blocks = _section(single[2], "Validation score vs blocks trained")
    rows = [_text(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", blocks)[1:]]
    assert rows == ["freeze 4 0.7000 4 1", "full 6 0.6500 0 1", "lora 6 0.7200 1 1"]


def test_two_objective_report_lists_the_pareto_front(tmp_path):
    study = two_objective_study()
    page = write_study_report(tmp_path, study, {"pareto": [0, 1, 3]}).read_text()
    pareto = _section(page, "Pareto front")
    assert pareto.count('src="data:image/png;base64,') == 1
    listed = [int(_text(r).split()[0]) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", pareto)[1:]]
    assert listed == [0, 1, 3]                                   # best first objective first; 2 is dominated
    assert "3 trials are on the Pareto front" in _text(_section(page, "Best recipe"))
    assert _section(page, "Optimisation history").count("data:image/png") == 2   # one per objective
    assert "train.seconds ↓" in _section(page, "Trials")


def test_pareto_front_is_taken_from_the_study_when_the_summary_has_none(tmp_path):
    study = two_objective_study()
    fig = pareto_figure(study.trials, objectives(study), {t.number for t in study.best_trials})
    front = next(line for line in fig.axes[0].lines if line.get_gid() == "pareto front")
    assert sorted(zip(front.get_xdata(), front.get_ydata())) == [(0.6, 3.0), (0.71, 10.0), (0.74, 30.0)]
    page = write_study_report(tmp_path, study, {}).read_text()
    assert [int(_text(r).split()[0]) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", _section(page, "Pareto front"))[1:]
            ] == [0, 1, 3]


def test_empty_study(tmp_path):
    page = write_study_report(tmp_path, optuna.create_study(study_name="nothing-yet"), {}).read_text()
    assert "Search: nothing-yet" in page
    assert "The study has no trials yet" in _text(_section(page, "Trials"))
    assert "No trial has finished yet" in _text(_section(page, "Optimisation history"))
    assert "<h2>Why the best won</h2>" not in page and "data:image/png" not in page


def test_only_failed_trials(tmp_path):
    study = optuna.create_study(study_name="all-failed")
    for error in ("out of memory", "the loss became NaN"):
        study.add_trial(create_trial(state=TrialState.FAIL, params={"optimizer.lr": 1e-2},
                                     distributions={"optimizer.lr": DISTRIBUTIONS["optimizer.lr"]},
                                     user_attrs={"error": error}))
    page = write_study_report(tmp_path, study, {"importances": {}, "final": None}).read_text()
    text = _text(_section(page, "Best recipe"))
    assert "No trial completed, so there is no best recipe. The first failure: out of memory" in text
    assert "the loss became NaN" in _text(_section(page, "Trials"))
    assert _section(page, "Optimisation history").count("data:image/png") == 1   # the failures are marked


def test_one_trial_without_importances_or_final_run(tmp_path):
    study = optuna.create_study(study_name="one", direction="maximize")
    study.add_trial(create_trial(value=0.61, params={"optimizer.lr": 1e-3},
                                 distributions={"optimizer.lr": DISTRIBUTIONS["optimizer.lr"]},
                                 intermediate_values={5: 0.5, 10: 0.61}))
    page = write_study_report(tmp_path, study, {"importances": {}, "final": None}).read_text()
    assert "Best: trial 0" in _text(_section(page, "Best recipe"))
    assert "No final run" in _text(_section(page, "Best recipe"))
    assert "the only trial that completed" in _text(_section(page, "Why the best won"))
    assert "No parameter importances were computed" in _text(_section(page, "Parameter importances"))
    assert "<h2>Validation score vs blocks trained</h2>" not in page     # no trial said how many blocks
    assert "value ↑" in _section(page, "Trials")                         # no objectives attribute: Optuna's name


def test_rows_and_csv_columns(tmp_path):
    study = single_objective_study()
    assert table_columns(study) == ["number", "state", "validation.macro_f1", "strategy.name", "optimizer.lr",
                                    "strategy.top_blocks", "seconds", "pruned_at_step", "error"]
    rows = trials_table_rows(study)
    assert [r["state"] for r in rows] == ["complete", "complete", "pruned", "failed", "complete", "interrupted"]
    assert rows[1]["validation.macro_f1"] == 0.72 and rows[1]["seconds"] == 9.0
    assert rows[2]["pruned_at_step"] == 20 and rows[2]["validation.macro_f1"] is None
    assert rows[3]["error"] == LONG_ERROR and rows[0]["strategy.top_blocks"] is None
    path = write_trials_csv(study, tmp_path / "trials.csv")
    with path.open() as f:
        read = list(csv.DictReader(f))
    assert list(read[0]) == table_columns(study)
    assert read[2]["pruned_at_step"] == "20" and read[2]["validation.macro_f1"] == ""
    assert float(read[4]["optimizer.lr"]) == 2e-4 and read[4]["strategy.top_blocks"] == "4"
    assert read[5]["error"] == "interrupted"


def test_two_objective_csv_has_a_column_per_objective(tmp_path):
    study = two_objective_study()
    write_trials_csv(study, tmp_path / "trials.csv")
    with (tmp_path / "trials.csv").open() as f:
        read = list(csv.DictReader(f))
    assert [(r["validation.macro_f1"], r["train.seconds"]) for r in read[:2]] == [("0.74", "30.0"), ("0.71", "10.0")]
    assert read[4]["state"] == "pruned" and read[4]["train.seconds"] == ""


def test_final_run_intervals_columns_and_verdict_come_from_its_metrics_json(tmp_path):
    """A final summary without intervals: they, the headline columns, the test size and the paired
    comparison with the baseline are read from the final run's own metrics.json."""
    import json

    summary = final_summary()
    del summary["final"]["test_ci"]
    (tmp_path / "best").mkdir()
    (tmp_path / "best" / "metrics.json").write_text(json.dumps({
        "monitor": "macro_f1", "confidence": 0.9, "columns": {"headline": ["accuracy", "macro_f1"]},
        "test_ci": {"accuracy": [0.7, 0.76], "macro_f1": [0.66, 0.74]}, "data": {"sizes": {"test": 1000}},
        "vs_baseline": {"metric": "macro_f1", "difference": 0.15, "ci": [0.12, 0.18], "p_value": 0.0,
                        "significant": True, "better": True, "worse": False,
                        "method": "paired bootstrap on the same examples"}}))
    best = _section(write_study_report(tmp_path, single_objective_study(), summary).read_text(), "Best recipe")
    header = [_text(h) for h in re.findall(r"<th>(.*?)</th>", best)]
    assert header == ["model", "accuracy", "macro_f1"]                 # log_loss is not a headline column
    final = _text(next(r for r in re.findall(r"<tr[^>]*>(.*?)</tr>", best) if "final run" in r))
    assert final == "best recipe, final run 0.7321 [0.7000, 0.7600] 0.7012 [0.6600, 0.7400]"
    text = _text(best)
    assert "test split (1,000 examples)" in text and "90% bootstrap interval" in text
    assert "Yes: fine-tuning beat the frozen pre-trained baseline" in text and "macro_f1 +0.1500" in text


def test_no_table_overflows_in_chromium(single):
    """Measured in a real browser at 1280 px: no table of the study report hides columns behind a scrollbar
    (skipped where Chromium is not installed)."""
    import subprocess
    import tempfile

    from report.conftest import CHROMIUM_FLAGS, chromium

    exe = chromium()
    if exe is None:
        pytest.skip("Chromium is not installed")
    study_dir, _, page = single
    probe = study_dir / "probe.html"
    probe.write_text(page.replace("</body>", (
        "<script>const w=[...document.querySelectorAll('.scroll')].map(s=>s.scrollWidth-s.clientWidth);"
        "document.body.setAttribute('data-overflow', String(Math.max(...w)));"
        "document.body.setAttribute('data-tables', String(w.length));</script></body>")))
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([exe, *CHROMIUM_FLAGS, "--window-size=1280,900", f"--user-data-dir={profile}",
                               "--dump-dom", probe.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert int(re.search(r'data-tables="(\d+)"', done.stdout).group(1)) == 4   # final run, trials, importances, blocks
    assert int(re.search(r'data-overflow="(-?\d+)"', done.stdout).group(1)) <= 0


def test_two_objective_pick_is_explained_as_a_place_on_the_front(tmp_path):
    page = write_study_report(tmp_path, two_objective_study(), {"pareto": [0, 1, 3], "best": {"number": 1}}).read_text()
    assert "Best: trial 1" in _text(_section(page, "Best recipe"))
    assert "validation.macro_f1 0.7100, train.seconds 10.0000" in _text(_section(page, "Best recipe"))
    why = _text(_section(page, "Why the best won"))
    assert "is one of 3 trials on the Pareto front" in why and "validation.macro_f1 and train.seconds" in why
    assert re.search(r'<tr class="best"><td>1</td>', _section(page, "Trials"))
