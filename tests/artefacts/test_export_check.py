"""`tuneforge export RUN --sentence-transformers` and `tuneforge export RUN --check` on finished runs.

One tiny-BERT LoRA run with cls pooling (so model/ and adapter/ carry tuneforge's pooling file) serves
the text tests: it is exported to ONNX and as a sentence-transformers folder, then checked; copies of it
are tampered with (a weight of model.safetensors changed: the check says `differs`, exit code 3) or
damaged (a truncated file: `could not load (why)`). One tiny timm image run checks model/ (timm),
adapter/ and its ONNX file, and is refused as an embedding model with exit code 2 and one message.

Tolerances (printed by the command and asserted here): 1e-4 on logits, 1e-5 on embeddings, both relative
to the outputs' scale above 1."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

import tuneforge
from tuneforge.artefacts.export_check import CHECK_FAILED, check_artefacts
from tuneforge.cli import main
from tuneforge.models import load_saved_model

from runs.conftest import text_recipe

pytest.importorskip("sentence_transformers")
pytest.importorskip("onnxruntime")

TEXTS = ["the movie was great and i loved it", "bad", "a terrible boring awful day with my friend"]


def _out(capsys) -> str:
    return " ".join(capsys.readouterr().out.split())


@pytest.fixture(scope="module")
def text_run(bert_dir, text_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    recipe = text_recipe(bert_dir, text_csv, out, **{
        "strategy": {"name": "lora", "r": 4}, "model.pooling": "cls", "train.epochs": 1,
        "train.restore_best": False, "evaluate.bootstrap": 50, "evaluate.report": False, "evaluate.explain": 0})
    run_dir = tuneforge.finetune(recipe, quiet=True).run_dir
    assert main(["export", str(run_dir), "--onnx", "--sentence-transformers"]) == 0
    return run_dir


@pytest.fixture(scope="module")
def image_run(cnn_weights, tmp_path_factory):
    images = Path(__file__).resolve().parents[1] / "corpus" / "files" / "images_ok"
    return tuneforge.finetune({
        "task": "image-classification", "model": {"name": "timm:test_efficientnet", "weights": str(cnn_weights)},
        "data": {"train": str(images), "validation": 0.25, "test": 0.25, "image_size": 32},
        "strategy": {"name": "lora"}, "train": {"epochs": 1, "batch_size": 4, "restore_best": False},
        "evaluate": {"bootstrap": 20, "report": False, "explain": 0},
        "output": {"dir": str(tmp_path_factory.mktemp("image-runs"))}}, quiet=True).run_dir


def test_sentence_transformers_folder_embeds_texts_as_the_heads_features(text_run):
    from sentence_transformers import SentenceTransformer

    folder = text_run / "sentence-transformers"
    info = json.loads((folder / "tuneforge_embedding.json").read_text())
    assert info["pooling"] == "cls" and info["normalize"] is False and info["max_seq_length"] == 32
    assert info["checked_split"] == "test" and info["max_abs_diff"] <= info["tolerance"] <= 1e-5 * 100

    model = load_saved_model(text_run / "model").eval()
    got = torch.as_tensor(SentenceTransformer(str(folder), device="cpu").encode(TEXTS))
    batch = dict(model.preprocessor(TEXTS, padding=True, truncation=True, max_length=32, return_tensors="pt"))
    features = model.features(batch)
    assert (got - features).abs().max() <= 1e-5 * max(1.0, float(features.abs().max()))
    with torch.no_grad():   # the features are what the head reads: the head of them gives tuneforge's logits
        assert torch.allclose(model.head_linear()(got), model(batch), atol=1e-4)


def test_check_says_every_artefact_of_a_good_run_agrees(text_run, capsys):
    assert main(["export", str(text_run), "--check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = ["tuneforge (model/)", "model/ (transformers)", "adapter/ (peft)", "model/model.onnx (onnxruntime)",
             "sentence-transformers/ (SentenceTransformer.encode)"]
    for name in names:
        line = " ".join(next(l for l in lines if l.startswith(name)).split())
        assert re.match(re.escape(name) + r": agrees \(.*max abs diff .*, tolerance [0-9.e-]+(;.*)?\)", line), line
    assert any("5 of 5 artefacts agree" in l for l in lines)


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    return copy


def test_check_reports_a_changed_weight_as_differing(text_run, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    run = _copy(text_run, tmp_path)
    weights = run / "model" / "model.safetensors"
    state = load_file(str(weights))
    name = next(k for k in state if k.endswith("classifier.weight"))
    state[name][0, :4] += 1.0   # one class's weights (a uniform shift would vanish: LayerNorm'd features sum to ~0)
    save_file(state, str(weights), metadata={"format": "pt"})

    assert main(["export", str(run), "--check"]) == CHECK_FAILED == 3
    out = _out(capsys)
    assert re.search(r"tuneforge \(model/\): differs by [0-9.e+-]+ \(max abs diff from the run's recorded test "
                     r"outputs, tolerance", out), out
    # the ONNX file, written before the change, now differs from the changed model/
    assert "model/model.onnx (onnxruntime): differs by" in out and "artefacts agree; " in out


def test_a_quantised_onnx_file_is_checked_with_its_own_tolerance(text_run, tmp_path):
    """An int8 file (written here as another helper's export would) is found, recognised as quantised, and
    measured against 0.1 x the logits' scale, with how many rows keep their top class; whether it agrees depends
    on the model (this barely trained one has logits near 0, where int8 noise can flip classes)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    run = _copy(text_run, tmp_path)
    quantize_dynamic(str(run / "model" / "model.onnx"), str(run / "model" / "model.int8.onnx"),
                     weight_type=QuantType.QInt8)
    checks = {c.artefact: c for c in check_artefacts(run)}
    fp32, int8 = checks["model/model.onnx (onnxruntime)"], checks["model/model.int8.onnx (onnxruntime, quantised)"]
    assert fp32.agrees and int8.value > fp32.tolerance            # int8 moves the logits more than fp32 may
    assert int8.tolerance == pytest.approx(10 ** 3 * fp32.tolerance)  # 0.1 against 1e-4, on the same scale
    assert int8.agrees == (int8.value <= int8.tolerance)
    assert re.search(r"; same top class on \d of 8 rows\)$", int8.line()), int8.line()


def test_an_edited_pooling_file_is_not_trusted_and_the_plain_class_is_reported_differing(text_run, tmp_path):
    """The folder's code runs only when it is tuneforge's own, unmodified file; edited, transformers' own class
    loads instead (first-token pooler, random) or refuses, and the check says so: the trap it exists for."""
    run = _copy(text_run, tmp_path)
    with open(run / "model" / "tuneforge_pooling.py", "a", encoding="utf-8") as f:
        f.write("# edited\n")
    checks = {c.artefact: c for c in check_artefacts(run)}
    plain = checks["model/ (transformers)"]
    # today transformers falls back to its own class (differs); a folder whose model type only its own code
    # defines makes it refuse instead (could not load, naming trust_remote_code): never "agrees"
    assert (plain.status == "differs" and plain.value > 100 * plain.tolerance) or (
        plain.status == "could not load" and "trust_remote_code" in plain.why), plain.line()
    assert checks["tuneforge (model/)"].agrees


def test_check_reports_a_damaged_file_as_not_loadable(text_run, tmp_path, capsys):
    run = _copy(text_run, tmp_path)
    onnx_file = run / "model" / "model.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes()[:200])
    st_weights = run / "sentence-transformers" / "model.safetensors"
    st_weights.write_bytes(b"not a safetensors file")

    checks = {c.artefact: c for c in check_artefacts(run)}
    assert checks["model/model.onnx (onnxruntime)"].status == "could not load"
    assert checks["sentence-transformers/ (SentenceTransformer.encode)"].status == "could not load"
    assert checks["model/ (transformers)"].agrees and checks["adapter/ (peft)"].agrees
    assert main(["export", str(run), "--check"]) == 3
    out = _out(capsys)
    assert re.search(r"model/model\.onnx \(onnxruntime\): could not load \(\w+.*\)", out), out
    assert "sentence-transformers/ (SentenceTransformer.encode): could not load (" in out


def test_check_of_a_run_whose_model_weights_are_damaged(text_run, tmp_path, capsys):
    run = _copy(text_run, tmp_path)
    (run / "model" / "model.safetensors").write_bytes(b"\x00" * 16)
    assert main(["export", str(run), "--check"]) == 3
    assert "tuneforge (model/): could not load (" in _out(capsys)


def test_check_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--check"]) == 2
    err = capsys.readouterr().err
    assert "not a run folder" in err and "Traceback" not in err


def test_image_run_checks_timm_adapter_and_onnx_and_is_refused_as_embeddings(image_run, capsys):
    assert main(["export", str(image_run), "--sentence-transformers"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "image-classification run" in err and "inputs are image" in err and "Traceback" not in err
    assert not (image_run / "sentence-transformers").exists()

    assert main(["export", str(image_run), "--onnx"]) == 0
    capsys.readouterr()
    assert main(["export", str(image_run), "--check"]) == 0
    out = _out(capsys)
    for name in ("tuneforge (model/)", "model/ (timm)", "adapter/ (peft)", "model/model.onnx (onnxruntime)"):
        assert f"{name}: agrees" in out, out


def test_sentence_transformers_without_the_extra_is_one_message(tmp_path, monkeypatch, capsys):
    import sys
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    assert main(["export", str(tmp_path), "--sentence-transformers"]) == 2
    assert " ".join(capsys.readouterr().err.split()) == (
        "error: tuneforge export --sentence-transformers needs the sentence-transformers extra: "
        "pip install 'tuneforge[sentence-transformers]'")


def test_an_embedding_folder_that_fails_its_own_check_is_not_left_behind(text_run, tmp_path, monkeypatch, capsys):
    from tuneforge.artefacts import embeddings_export

    run = _copy(text_run, tmp_path)
    shutil.rmtree(run / "sentence-transformers")
    monkeypatch.setattr(embeddings_export, "embedding_difference", lambda *a: (0.5, 1.0))   # as if it embedded otherwise
    assert main(["export", str(run), "--sentence-transformers"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "differed from tuneforge's features by 0.5" in err and "removed" in err
    assert not (run / "sentence-transformers").exists()
