"""An exported model reproduces its pooling when loaded with transformers, never predicts otherwise in
silence (a plain load without trusting the folder's code stops with an error naming trust_remote_code), and
tuneforge reloads it, and folders the previous version wrote."""
from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

from tuneforge.errors import ModelError
from tuneforge.models import load_saved_model, load_task_model, peek_model, save_task_model
from tuneforge.models.pooling_code import _render_v1, upgrade_pooling_code
from tuneforge.recipe.schema import ModelSection

TEXTS = ["the movie was great", "bad", "what a terrible boring film and a long one"]
LABELS = ["neg", "neu", "pos"]


def _export(folder, pooling, out):
    model = load_task_model(ModelSection(name=str(folder), pooling=pooling), "text", 3, LABELS, False).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        model.head_linear().weight.normal_(0, 0.5)
    save_task_model(model, out, LABELS, {"task": "classification"})
    batch = dict(model.preprocessor(TEXTS, padding=True, return_tensors="pt"))
    batch.pop("token_type_ids", None)
    with torch.no_grad():
        return model, batch, model(batch)


def _plain_logits(folder, **kwargs):
    net = AutoModelForSequenceClassification.from_pretrained(folder, **kwargs).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        return net, net(**tokenizer(TEXTS, padding=True, return_tensors="pt")).logits


@pytest.mark.parametrize("fixture,pooling", [("bert_dir", "mean"), ("bert_dir", "cls"), ("llama_dir", "mean")])
def test_other_pooling_loads_in_transformers_with_its_modeling_file(fixture, pooling, request, tmp_path):
    out = tmp_path / "model"
    _, batch, expected = _export(request.getfixturevalue(fixture), pooling, out)
    config = json.loads((out / "config.json").read_text())
    assert config["tuneforge_pooling"] == pooling
    assert config["auto_map"] == {"AutoConfig": "tuneforge_pooling.TuneforgePooledConfig",
                                  "AutoModelForSequenceClassification":
                                  "tuneforge_pooling.TuneforgePooledForSequenceClassification"}
    native = "bert" if fixture == "bert_dir" else "llama"
    assert config["model_type"] == f"tuneforge-pooled-{native}"
    # the ordinary load stops, naming the fix, instead of building the plain class with an untrained pooler
    with pytest.raises(ValueError, match="trust_remote_code=True"):
        AutoModelForSequenceClassification.from_pretrained(out)
    with pytest.raises(ValueError, match="trust_remote_code=True"):
        pipeline("text-classification", model=str(out))
    AutoTokenizer.from_pretrained(out)   # the tokenizer still loads the ordinary way
    assert json.loads((out / "tuneforge.json").read_text())["pooling"] == pooling

    net, logits = _plain_logits(out, trust_remote_code=True)
    assert type(net).__name__ == "TuneforgePooledForSequenceClassification"
    assert torch.allclose(logits, expected, atol=1e-5)
    if fixture == "bert_dir":  # the unused pooler is neither kept nor saved
        assert net.bert.pooler is None and not any("pooler" in k for k in net.state_dict())

    again = load_saved_model(out)  # evaluate / predict on a run folder
    assert again.pooling == pooling
    with torch.no_grad():
        assert torch.allclose(again(batch), expected, atol=1e-6)


def test_exported_folder_fine_tunes_again_without_trusting_code(bert_dir, tmp_path):
    out = tmp_path / "model"
    _export(bert_dir, "mean", out)
    model = load_task_model(ModelSection(name=str(out)), "text", 2, None, False)
    assert model.pooling == "mean" and "recorded by tuneforge" in model.pooling_source
    assert peek_model(ModelSection(name=str(out))).pooling == "mean"
    # exporting it again with the pooler is impossible: the pooler was never saved
    with pytest.raises(ModelError, match="no pooler weights"):
        load_task_model(ModelSection(name=str(out), pooling="pooler"), "text", 2, None, False)
    save_task_model(load_task_model(ModelSection(name=str(out), pooling="cls"), "text", 2, None, False),
                    tmp_path / "again", None, {})
    assert json.loads((tmp_path / "again" / "config.json").read_text())["tuneforge_pooling"] == "cls"


def test_a_modified_modeling_file_is_refused(bert_dir, tmp_path):
    out = tmp_path / "model"
    _export(bert_dir, "mean", out)
    code = out / "tuneforge_pooling.py"
    code.write_text(code.read_text() + "\nimport os  # anything else\n")
    with pytest.raises(ModelError, match="tuneforge_pooling.py.*trust_remote_code"):
        load_task_model(ModelSection(name=str(out)), "text", 2, None, False)


@pytest.mark.parametrize("fixture", ["bert_dir", "llama_dir"])
def test_native_pooling_needs_no_modeling_file(fixture, request, tmp_path):
    out = tmp_path / "model"
    model, _, expected = _export(request.getfixturevalue(fixture), "auto", out)
    assert model.pooling == ("pooler" if fixture == "bert_dir" else "last")
    config = json.loads((out / "config.json").read_text())
    assert "auto_map" not in config and not (out / "tuneforge_pooling.py").exists()
    net, logits = _plain_logits(out)
    assert type(net).__name__ in ("BertForSequenceClassification", "LlamaForSequenceClassification")
    assert torch.allclose(logits, expected, atol=1e-5)


def test_a_folder_written_by_the_previous_version_still_reloads(bert_dir, tmp_path):
    """Folders exported before the modeling file defined its config class (model_type "bert", auto_map for
    the model class only) reload in tuneforge, fine-tune again and, exported again, get the new config."""
    out = tmp_path / "model"
    _, batch, expected = _export(bert_dir, "mean", out)
    config = json.loads((out / "config.json").read_text())
    config["model_type"] = "bert"
    config["auto_map"] = {"AutoModelForSequenceClassification":
                          "tuneforge_pooling.TuneforgePooledForSequenceClassification"}
    (out / "config.json").write_text(json.dumps(config))
    (out / "tuneforge_pooling.py").write_text(_render_v1("BertForSequenceClassification", "classifier"))
    again = load_saved_model(out)
    with torch.no_grad():
        assert torch.allclose(again(batch), expected, atol=1e-6)
    model = load_task_model(ModelSection(name=str(out)), "text", 2, None, False)
    assert model.pooling == "mean"
    save_task_model(model, tmp_path / "again", None, {})
    assert json.loads((tmp_path / "again" / "config.json").read_text())["model_type"] == "tuneforge-pooled-bert"

    assert upgrade_pooling_code(out) and not upgrade_pooling_code(out)   # what `tuneforge export RUN` does to it
    with pytest.raises(ValueError, match="trust_remote_code=True"):
        AutoModelForSequenceClassification.from_pretrained(out)
    _, logits = _plain_logits(out, trust_remote_code=True)
    assert torch.allclose(logits, expected, atol=1e-5)
    with torch.no_grad():
        assert torch.allclose(load_saved_model(out)(batch), expected, atol=1e-6)
