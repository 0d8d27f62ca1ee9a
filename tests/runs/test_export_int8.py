"""`tuneforge export RUN --onnx --quantize int8`: the int8 file is written beside model.onnx, scored beside
it on the run's test split (metric with its interval before and after, paired difference), timed against
PyTorch, written to onnx.json and the report; a model that int8 rounding destroys is flagged with the fp32
file recommended; usage errors end with one message and exit code 2.

Tiny runs (1-2 epochs of a 2-layer BERT or a tiny timm CNN) for each task family ONNX carries; each export
traces the model with torch.export and quantises it (a few seconds)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import tuneforge
from tuneforge.artefacts import export_run as export_module
from tuneforge.artefacts.export_run import export_run
from tuneforge.cli import main

from helpers.ner_toy import ner_rows, write_conll
from runs.conftest import text_recipe
from tasks.conftest import multilabel_rows

IMAGES = Path(__file__).resolve().parents[1] / "corpus" / "files" / "images_ok"
FAST = {"train.epochs": 1, "train.restore_best": False, "evaluate.bootstrap": 100, "evaluate.explain": 0,
        "evaluate.baseline": False}


def _family_recipe(family, bert_dir, text_csv, cnn_weights, tmp):
    """A 1-epoch recipe of one task family on tiny data."""
    if family == "image-classification":
        return {"task": family, "model": {"name": "timm:test_efficientnet", "weights": str(cnn_weights)},
                "data": {"train": str(IMAGES), "validation": 0.25, "test": 0.25, "image_size": 32},
                "train": {"epochs": 1, "batch_size": 4, "restore_best": False},
                "evaluate": {"bootstrap": 100, "report": False, "explain": 0, "baseline": False},
                "output": {"dir": str(tmp)}}
    over = dict(FAST)
    if family == "text-regression":
        over["data.label_column"] = "score"
    elif family == "text-pair-classification":
        table = pd.read_csv(text_csv)
        table["premise"] = [f"sentence {i}" for i in range(len(table))]
        text_csv = tmp / "pairs.csv"
        table.to_csv(text_csv, index=False)
        over["data.text_column"] = ["premise", "text"]
        family = "text-classification"
    elif family == "text-multilabel":
        text_csv = tmp / "tags.jsonl"
        text_csv.write_text("\n".join(json.dumps(r) for r in multilabel_rows(120)) + "\n", encoding="utf-8")
        over["data.label_column"] = "labels"
    elif family == "token-classification":
        text_csv = write_conll(tmp / "ner.conll", ner_rows(120))
    return text_recipe(bert_dir, text_csv, tmp, task=family, **over)


FAMILIES = ["text-classification", "text-pair-classification", "text-regression", "text-multilabel",
            "token-classification", "image-classification"]


@pytest.mark.parametrize("family", FAMILIES)
def test_int8_export_scores_both_files_with_intervals(family, bert_dir, text_csv, cnn_weights, tmp_path, capsys,
                                                      monkeypatch):
    run = tuneforge.finetune(_family_recipe(family, bert_dir, text_csv, cnn_weights, tmp_path), quiet=True)
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.iterdir())
    assert main(["export", str(run.run_dir), "--onnx", "--quantize", "int8"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    folder = run.run_dir / "model"
    assert (folder / "model.int8.onnx").is_file() and (folder / "model.onnx").is_file()
    assert set(tmp_path.iterdir()) == before          # no temporary file left in the working directory
    r = json.loads((folder / "onnx.json").read_text())["int8"]
    m = r["metric"]
    assert m == run.metrics["monitor"] and r["split"] == "test"
    assert r["examples"] == run.metrics["data"]["sizes"]["test"]
    for key in ("fp32", "int8"):                   # the metric before and after, each with its interval
        low, high = r[key]["ci"][m]
        assert low <= r[key]["metrics"][m] <= high
    assert r["fp32"]["metrics"][m] == pytest.approx(run.metrics["test"][m], abs=1e-4)   # fp32 ONNX = PyTorch
    d = r["difference"]
    assert d["difference"] == pytest.approx(r["int8"]["metrics"][m] - r["fp32"]["metrics"][m], abs=1e-9)
    assert d["ci"][0] <= d["ci"][1] and 0 <= d["p_value"] <= 1 and "paired bootstrap" in d["method"]
    fp32_better = r["significantly_worse"] or r["size"]["ratio"] > 0.9
    assert r["recommended"] == ("model.onnx" if fp32_better else "model.int8.onnx")
    assert r["size"]["int8_bytes"] < r["size"]["fp32_bytes"]
    assert r["size"]["ratio"] == pytest.approx(r["size"]["int8_bytes"] / r["size"]["fp32_bytes"])
    for batch in ("batch_1", "batch_32"):
        lat = r["latency"][batch]
        assert all(lat[k] > 0 for k in ("pytorch_fp32", "onnx_fp32", "onnx_int8"))
        assert lat["int8_vs_pytorch"] == pytest.approx(lat["onnx_int8"] / lat["pytorch_fp32"])
    assert r["verdict"].split(":")[0] in out and "PyTorch fp32" in out and "ONNX int8" in out

    import onnxruntime
    session = onnxruntime.InferenceSession(str(folder / "model.int8.onnx"))
    assert {i.name for i in session.get_inputs()} == set(json.loads((folder / "onnx.json").read_text())["inputs"])


@pytest.fixture(scope="module")
def text_run(bert_dir, text_csv, tmp_path_factory):
    recipe = text_recipe(bert_dir, text_csv, tmp_path_factory.mktemp("runs"),
                         **{**FAST, "train.epochs": 6, "evaluate.report": True})
    return tuneforge.finetune(recipe, quiet=True)


def test_the_report_shows_the_int8_section(text_run):
    export_run(text_run.run_dir, onnx=True, quantize="int8")
    html = (text_run.run_dir / "report.html").read_text(encoding="utf-8")
    r = json.loads((text_run.run_dir / "model" / "onnx.json").read_text())["int8"]
    assert "int8 ONNX" in html and f"Recommended: model/{r['recommended']}" in html
    assert "ms per example, batch 1" in html and "ms per example, batch 32" in html
    assert "difference int8 - fp32" in html


def _ruined_by_int8(model):
    """The same predictions in fp32, none in int8: both classes' head columns get one equal, huge weight.

    In fp32 the outlier adds the same amount to both logits (the argmax is unchanged); int8 gives each
    column one scale, set by the outlier, so every other weight of the column rounds to 0 and both
    logits become equal up to the bias."""
    head = model.head_linear()
    with torch.no_grad():
        head.weight[:, 0] = 1e4
    return model


def test_a_model_that_int8_destroys_is_flagged_and_fp32_recommended(text_run, monkeypatch, capsys):
    recipe, task, model = export_module.load_finished_run(text_run.run_dir)
    monkeypatch.setattr(export_module, "load_finished_run", lambda d: (recipe, task, _ruined_by_int8(model)))
    from rich.console import Console
    info = export_run(text_run.run_dir, onnx=True, quantize="int8", console=Console(width=200))
    out = " ".join(capsys.readouterr().out.split())
    r = info["onnx"]["int8"]
    m = r["metric"]
    assert r["fp32"]["metrics"][m] > 0.8 and r["fp32"]["metrics"][m] - r["int8"]["metrics"][m] > 0.2
    assert r["significantly_worse"] and r["recommended"] == "model.onnx"
    assert r["difference"]["ci"][1] < 0
    assert "int8 is significantly worse than fp32" in out and "use the fp32 file model/model.onnx" in out
    assert json.loads((text_run.run_dir / "model" / "onnx.json").read_text())["int8"]["recommended"] == "model.onnx"


@pytest.mark.parametrize("args, message", [
    (["--quantize", "int8"], "add --onnx"),
    (["--onnx", "--quantize", "int4"], "the choices are int8"),
])
def test_usage_errors(text_run, args, message, capsys):
    assert main(["export", str(text_run.run_dir), *args]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err and "Traceback" not in err


def test_a_causal_lm_is_refused_with_one_message(text_run, monkeypatch, capsys):
    recipe, task, model = export_module.load_finished_run(text_run.run_dir)
    model.auto_class = "AutoModelForCausalLM"               # what a causal-LM run's model says it is
    monkeypatch.setattr(export_module, "load_finished_run", lambda d: (recipe, task, model))
    assert main(["export", str(text_run.run_dir), "--onnx", "--quantize", "int8"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "causal language models are not exported" in err and "Traceback" not in err
