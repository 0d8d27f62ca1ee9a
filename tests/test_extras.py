"""Optional dependencies are extras: a recipe or command that needs a missing one ends with one message naming
its pip line, exit code 2, and no run folder.

The libraries are made unimportable in this process (``sys.modules[name] = None``, which both ``import`` and
``importlib.util.find_spec`` honour); nothing is uninstalled.
"""
import sys
import tomllib
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from tuneforge.cli import main
from tuneforge.extras import EXTRAS, MissingExtra, extra_message, extra_problem, has_extra, require_extra
from tuneforge.recipe.validate import all_problems

from runs.conftest import text_csv, text_recipe  # noqa: F401  (text_csv: a session fixture, shared)

ROOT = Path(__file__).resolve().parents[1]


def block(monkeypatch, extra: str) -> None:
    """Make every module of ``extra`` unimportable for the rest of the test."""
    for module in EXTRAS[extra].modules:
        monkeypatch.setitem(sys.modules, module, None)
    assert not has_extra(extra)


def forget(monkeypatch, package: str) -> None:
    """Drop ``package`` and its submodules from ``sys.modules`` (restored after the test), so importing it runs
    its module code again."""
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        monkeypatch.delitem(sys.modules, name)


def write(tmp_path: Path, recipe: dict) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def cli_error(capsys) -> str:
    """The one error line the command printed, unwrapped."""
    return " ".join(capsys.readouterr().err.split())


# --- the declared extras ---------------------------------------------------------------------------------------

def test_every_extra_is_declared_in_pyproject_and_all_installs_every_one():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["optional-dependencies"]
    assert set(EXTRAS) <= set(declared)
    assert {"test", "bench", "assets", "all"} <= set(declared)
    assert sorted(declared["all"]) == sorted(r for e in EXTRAS for r in declared[e])
    core = " ".join(project["dependencies"]).lower()
    for extra in EXTRAS:
        for requirement in declared[extra]:
            name = requirement.split("[")[0].split(">")[0].split("=")[0].strip().lower()
            assert name not in core, f"{name} is still a core dependency"


def test_install_targets_install_every_extra():
    assert '-e ".[all,test]"' in (ROOT / "Makefile").read_text()
    assert "make test" in (ROOT / ".ci" / "run").read_text()   # CI installs through the Makefile
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme and ".[all,test]" in readme


def test_the_message_names_the_extra_and_its_pip_line(monkeypatch):
    assert extra_message("onnx", "tuneforge export --onnx") == \
        "tuneforge export --onnx needs the onnx extra: pip install 'tuneforge[onnx]'"
    block(monkeypatch, "onnx")
    assert extra_problem("onnx", "x") == "x needs the onnx extra: pip install 'tuneforge[onnx]'"
    with pytest.raises(MissingExtra) as e:
        require_extra("onnx", "x")
    assert str(e.value) == "x needs the onnx extra: pip install 'tuneforge[onnx]'" and e.value.extra == "onnx"


def test_installed_extras_say_nothing():
    for extra in EXTRAS:   # make install installs .[all,test]
        assert has_extra(extra), extra
        assert extra_problem(extra, "x") is None
        require_extra(extra, "x")


# --- recipes: found with the recipe's other problems, before any run folder ------------------------------------

PRIVACY = "privacy: DP-SGD (Opacus) needs the privacy extra: pip install 'tuneforge[privacy]'"
MLFLOW = "output.trackers: 'mlflow' needs the mlflow extra: pip install 'tuneforge[mlflow]'"


@pytest.mark.parametrize("extra, over, message", [
    ("privacy", {"privacy": {"epsilon": 3.0}, "strategy.name": "lora"}, PRIVACY),
    ("mlflow", {"output.trackers": ["mlflow"]}, MLFLOW),
])
def test_a_recipe_needing_a_missing_extra_stops_with_one_message(bert_dir, text_csv, tmp_path, monkeypatch, capsys,
                                                                 extra, over, message):
    out = tmp_path / "runs"
    path = write(tmp_path, text_recipe(bert_dir, text_csv, out, **over))
    assert all_problems(path) == []          # installed: a good recipe
    block(monkeypatch, extra)
    assert all_problems(path) == [message]
    for command in ("validate", "run"):
        assert main([command, str(path)]) == 2
        assert cli_error(capsys) == f"error: 1 problem: - {message}"
    assert not out.exists()


def test_the_privacy_engine_and_the_mlflow_logger_refuse_without_their_extra(bert_dir, text_csv, tmp_path,
                                                                              monkeypatch):
    from tuneforge.recipe import load_recipe
    from tuneforge.training.trackers import MLflowLogger

    block(monkeypatch, "mlflow")
    with pytest.raises(MissingExtra, match=r"needs the mlflow extra: pip install 'tuneforge\[mlflow\]'"):
        MLflowLogger(tmp_path / "run", load_recipe(text_recipe(bert_dir, text_csv, tmp_path / "runs")))
    assert not (tmp_path / "runs").exists()
    block(monkeypatch, "privacy")
    forget(monkeypatch, "tuneforge.privacy.engine")
    import tuneforge.privacy.engine as engine   # every run imports it to choose its engine: no Opacus needed
    from tuneforge.recipe.schema import PrivacySection
    with pytest.raises(MissingExtra) as e:
        engine.PrivateTraining(PrivacySection(epsilon=8.0), 100, 10, 10, 0)
    assert str(e.value) == PRIVACY


def _wav(path: Path, rate: int = 16000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((np.sin(np.arange(rate // 10) / 5) * 8000).astype("<i2").tobytes())


def test_an_audio_recipe_needs_the_audio_extra(tmp_path, monkeypatch, capsys):
    from helpers.tiny import tiny_wav2vec2
    from tuneforge.data.audio import read_audio_file

    for label in ("yes", "no"):
        _wav(tmp_path / "clips" / label / "0.wav")
    model = tiny_wav2vec2(tmp_path / "wav2vec2")
    out = tmp_path / "runs"
    path = write(tmp_path, {"task": "audio-classification", "model": {"name": str(model)},
                            "data": {"train": str(tmp_path / "clips")}, "strategy": {"name": "full"},
                            "output": {"dir": str(out)}})
    assert all_problems(path) == []
    block(monkeypatch, "audio")
    message = "task 'audio-classification' needs the audio extra: pip install 'tuneforge[audio]'"
    assert all_problems(path) == [message]
    capsys.readouterr()   # (the tiny model's saving progress)
    assert main(["run", str(path)]) == 2
    assert cli_error(capsys) == f"error: 1 problem: - {message}"
    assert not out.exists()
    with pytest.raises(MissingExtra, match=r"pip install 'tuneforge\[audio\]'"):
        read_audio_file(tmp_path / "clips" / "yes" / "0.wav", "row 1")


# --- commands: checked before anything is loaded or written ----------------------------------------------------

def test_federate_without_flower_is_one_message(bert_dir, text_csv, tmp_path, monkeypatch, capsys):
    out = tmp_path / "runs"
    path = write(tmp_path, text_recipe(bert_dir, text_csv, out, **{"strategy.name": "lora"}))
    block(monkeypatch, "federated")
    forget(monkeypatch, "tuneforge.federated")
    assert main(["federate", str(path), "--clients", "2", "--rounds", "1"]) == 2
    assert cli_error(capsys) == "error: tuneforge federate needs the federated extra: pip install 'tuneforge[federated]'"
    assert not out.exists()


def test_export_onnx_without_onnx_is_one_message(tmp_path, monkeypatch, capsys):
    from tuneforge.models.onnx_export import export_onnx

    block(monkeypatch, "onnx")
    message = "tuneforge export --onnx needs the onnx extra: pip install 'tuneforge[onnx]'"
    assert main(["export", str(tmp_path / "run"), "--onnx"]) == 2
    assert cli_error(capsys) == f"error: {message}"
    with pytest.raises(MissingExtra) as e:
        export_onnx(torch.nn.Linear(2, 2), {}, {}, tmp_path / "model" / "model.onnx")
    assert str(e.value) == message
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize("extra, args, message", [
    ("postgres", ["--storage", "postgresql+psycopg://tf:secret@db.example:5432/studies"],
     "--storage postgresql+psycopg://tf:***@db.example:5432/studies needs the postgres extra: "
     "pip install 'tuneforge[postgres]'"),
    ("dashboard", ["--dashboard", "--port", "0"],
     "the live dashboard needs the dashboard extra: pip install 'tuneforge[dashboard]'"),
])
def test_search_options_needing_a_missing_extra_stop_before_the_study_folder(bert_dir, text_csv, tmp_path, monkeypatch,
                                                                            capsys, extra, args, message):
    out = tmp_path / "runs"
    path = write(tmp_path, text_recipe(bert_dir, text_csv, out))
    block(monkeypatch, extra)
    assert main(["search", str(path), "--trials", "1", *args]) == 2
    assert cli_error(capsys) == f"error: {message}"
    assert not out.exists()


def test_the_storage_and_the_dashboard_refuse_without_their_extra(tmp_path, monkeypatch):
    from tuneforge.search.dashboard import serve_dashboard
    from tuneforge.search.storage import open_storage

    block(monkeypatch, "postgres")
    with pytest.raises(MissingExtra, match=r"^--storage postgresql\+psycopg://u:\*\*\*@h/db needs the postgres"):
        open_storage("postgresql+psycopg://u:pw@h/db")
    block(monkeypatch, "dashboard")
    with pytest.raises(MissingExtra, match=r"^the live dashboard needs the dashboard extra"):
        serve_dashboard(tmp_path, port=0, block=False)


# --- captum: the report explains by occlusion and says what adds the gradient view -----------------------------

def test_without_captum_attributions_are_skipped_and_the_report_says_why(monkeypatch):
    from tuneforge.evaluation.attribution import MISSING_NOTE, attribute_example
    from tuneforge.report.explain import explanations

    entry = {"index": 0, "label": "a", "predicted": "b", "probability": 0.6, "tokens": [{"token": "hi", "score": 0.2}]}
    assert MISSING_NOTE not in explanations([entry])          # installed: no note
    block(monkeypatch, "explain")
    assert attribute_example(None, {"input_ids": torch.zeros(1, 3, dtype=torch.long)}, 0) is None
    html = explanations([entry])
    assert MISSING_NOTE.replace("'", "&#x27;") in html
    assert "pip install &#x27;tuneforge[explain]&#x27;" in html
