"""save_task_model writes folders that load without tuneforge, with the same logits."""
from __future__ import annotations

import json

import pytest
import timm
import torch
from transformers import (AutoImageProcessor, AutoModelForImageClassification, AutoModelForSequenceClassification,
                          AutoTokenizer)

from tuneforge.errors import ModelError
from tuneforge.models import load_saved_model, load_task_model, save_task_model
from tuneforge.recipe.schema import ModelSection

TEXTS = ["the movie was great", "what a terrible boring film", "bad"]


def _perturb_head(model):
    """Stand-in for training: give the head distinctive weights."""
    torch.manual_seed(1)
    with torch.no_grad():
        model.head_linear().weight.normal_(0, 0.5)


@pytest.mark.parametrize("folder_fixture", ["bert_dir", "llama_dir"])
def test_text_model_reloads_with_transformers(folder_fixture, request, tmp_path):
    source = request.getfixturevalue(folder_fixture)
    labels = ["neg", "neu", "pos"]
    model = load_task_model(ModelSection(name=str(source)), "text", 3, labels, False)
    _perturb_head(model)
    save_task_model(model, tmp_path / "out", labels, {"task": "classification"})
    batch = dict(model.preprocessor(TEXTS, padding=True, return_tensors="pt"))
    expected = model(batch)

    net = AutoModelForSequenceClassification.from_pretrained(tmp_path / "out").eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out")
    plain = dict(tokenizer(TEXTS, padding=True, return_tensors="pt"))
    plain.pop("token_type_ids", None)
    with torch.no_grad():
        assert torch.allclose(net(**plain).logits, expected, atol=1e-6)
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["id2label"] == {"0": "neg", "1": "neu", "2": "pos"}
    assert config["label2id"] == {"neg": 0, "neu": 1, "pos": 2}

    again = load_saved_model(tmp_path / "out")
    assert again.label_names == labels and again.layer_map.names() == model.layer_map.names()
    with torch.no_grad():
        assert torch.allclose(again(batch), expected, atol=1e-6)
    meta = json.loads((tmp_path / "out" / "tuneforge.json").read_text())
    assert (meta["kind"], meta["modality"], meta["extra"]) == ("hf", "text", {"task": "classification"})


def test_vit_reloads_with_transformers(vit_dir, tmp_path):
    model = load_task_model(ModelSection(name=str(vit_dir)), "image", 2, ["cat", "dog"], False, image_size=48)
    _perturb_head(model)
    save_task_model(model, tmp_path, ["cat", "dog"], {})
    pixels = torch.randn(2, 3, 48, 48)
    expected = model(dict(pixel_values=pixels))
    net = AutoModelForImageClassification.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.allclose(net(pixel_values=pixels, interpolate_pos_encoding=True).logits, expected, atol=1e-6)
    processor = AutoImageProcessor.from_pretrained(tmp_path)
    assert processor.size["height"] == 48 and list(processor.image_mean) == [0.5, 0.5, 0.5]
    assert net.config.id2label == {0: "cat", 1: "dog"}
    again = load_saved_model(tmp_path)
    assert again.preprocessor == model.preprocessor
    with torch.no_grad():
        assert torch.allclose(again(dict(pixel_values=pixels)), expected, atol=1e-6)


def test_timm_model_reloads_with_timm_alone(timm_weights, tmp_path):
    labels = ["a", "b", "c"]
    model = load_task_model(ModelSection(name="timm:test_efficientnet", weights=str(timm_weights)),
                            "image", 3, labels, False, image_size=64)
    _perturb_head(model)
    save_task_model(model, tmp_path, labels, {"target_scale": None})
    pixels = torch.randn(2, 3, 64, 64)
    expected = model(dict(pixel_values=pixels))

    config = json.loads((tmp_path / "config.json").read_text())
    assert (config["architecture"], config["num_classes"], config["label_names"]) == ("test_efficientnet", 3, labels)
    assert config["pretrained_cfg"]["input_size"] == [3, 64, 64]
    assert "local-dir:" in (tmp_path / "README.md").read_text()
    with torch.no_grad():
        by_folder = timm.create_model(f"local-dir:{tmp_path}", pretrained=True).eval()
        assert torch.equal(by_folder(pixels), expected)
        by_file = timm.create_model("test_efficientnet", num_classes=3, pretrained=True, pretrained_cfg_overlay=dict(
            file=str(tmp_path / "model.safetensors"), num_classes=3)).eval()
        assert torch.equal(by_file(pixels), expected)
        again = load_saved_model(tmp_path)
        assert torch.equal(again(dict(pixel_values=pixels)), expected)
    assert again.label_names == labels and again.preprocessor == model.preprocessor
    # a saved timm folder is itself a valid model.name to fine-tune further
    further = load_task_model(ModelSection(name=str(tmp_path)), "image", 5, None, False)
    assert torch.equal(further.net.conv_stem.weight, model.net.conv_stem.weight)


def test_load_saved_model_needs_a_tuneforge_folder(tmp_path):
    with pytest.raises(ModelError, match="tuneforge.json"):
        load_saved_model(tmp_path)
