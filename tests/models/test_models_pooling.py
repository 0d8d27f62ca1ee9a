"""model.pooling: the head reads the features the checkpoint was pre-trained for.

The contract other parts rely on (frozen-feature baseline, head solvers): in eval mode
``head_linear()(features(batch)) == forward(batch)`` for every family of tiny model.
"""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from tuneforge.errors import ModelError
from tuneforge.models import load_task_model, peek_model
from tuneforge.recipe.schema import ModelSection

TEXTS = ["the movie was great", "bad", "what a terrible boring film and a long one"]


def _text(folder, pooling="auto", n=3):
    model = load_task_model(ModelSection(name=str(folder), pooling=pooling), "text", n, None, False).eval()
    torch.manual_seed(1)
    with torch.no_grad():  # a head with distinctive weights, as after training
        model.head_linear().weight.normal_(0, 0.5)
    return model


def _batch(model, texts=TEXTS):
    batch = dict(model.preprocessor(texts, padding=True, return_tensors="pt"))
    batch.pop("token_type_ids", None)
    return batch


def _bert_without_pooler(bert_dir, tmp_path):
    from transformers import BertConfig, BertModel
    shutil.copytree(bert_dir, tmp_path, dirs_exist_ok=True)
    torch.manual_seed(0)
    BertModel(BertConfig.from_pretrained(bert_dir), add_pooling_layer=False).save_pretrained(tmp_path)
    return tmp_path


def _sentence_transformers(bert_dir, tmp_path, mode="pooling_mode_mean_tokens"):
    shutil.copytree(bert_dir, tmp_path, dirs_exist_ok=True)
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    (tmp_path / "1_Pooling").mkdir()
    modes = {k: k == mode for k in ("pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens")}
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32, **modes}))
    return tmp_path


# -- the contract: the head linear of the features is the forward ------------------------------

@pytest.mark.parametrize("pooling", ["pooler", "mean", "cls"])
def test_bert_head_reads_the_features(bert_dir, pooling):
    model = _text(bert_dir, pooling)
    batch = _batch(model)
    assert model.pooling == pooling
    with torch.no_grad():
        assert torch.allclose(model.head_linear()(model.features(batch)), model(batch), atol=1e-6)


def test_decoder_head_reads_the_features(llama_dir):
    model = _text(llama_dir)
    batch = _batch(model)
    assert model.pooling == "last"
    with torch.no_grad():
        assert torch.allclose(model.head_linear()(model.features(batch)), model(batch), atol=1e-6)


def test_vit_head_reads_the_features(vit_dir):
    model = load_task_model(ModelSection(name=str(vit_dir)), "image", 3, None, False).eval()
    batch = dict(pixel_values=torch.randn(2, 3, 32, 32))
    assert model.pooling == "cls"
    with torch.no_grad():
        assert torch.allclose(model.head_linear()(model.features(batch)), model(batch), atol=1e-6)


def test_timm_head_reads_the_features(timm_weights):
    model = load_task_model(ModelSection(name="timm:test_efficientnet", weights=str(timm_weights)),
                            "image", 3, None, False).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        model.head_linear().weight.normal_(0, 0.5)
        batch = dict(pixel_values=torch.randn(2, 3, 64, 64))
        assert torch.allclose(model.head_linear()(model.features(batch)), model(batch), atol=1e-5)
    assert (model.pooling, model.pooling_source) == ("mean", "the timm model's own global_pool ('avg')")


# -- what each pooling computes ------------------------------------------------------------------

def test_each_pooling_reads_its_own_vector(bert_dir):
    models = {p: _text(bert_dir, p) for p in ("pooler", "mean", "cls")}
    batch = _batch(models["mean"])
    with torch.no_grad():
        hidden = models["mean"].net.base_model(**batch).last_hidden_state
        feats = {p: m.features(batch) for p, m in models.items()}
    mask = batch["attention_mask"].unsqueeze(-1).float()
    assert torch.allclose(feats["mean"], (hidden * mask).sum(1) / mask.sum(1), atol=1e-6)
    assert torch.allclose(feats["cls"], hidden[:, 0], atol=1e-6)
    assert not torch.allclose(feats["pooler"], feats["cls"], atol=1e-3)  # dense + tanh on top of it
    assert not torch.allclose(feats["mean"], feats["cls"], atol=1e-3)


@pytest.mark.parametrize("fixture,pooling", [("bert_dir", "mean"), ("llama_dir", "last"), ("llama_dir", "mean")])
def test_padding_does_not_change_the_features(fixture, pooling, request):
    model = _text(request.getfixturevalue(fixture), pooling)
    # BERT's absolute positions need right padding; Llama's rotary positions take either side
    sides = ("right",) if fixture == "bert_dir" else ("left", "right")
    with torch.no_grad():
        alone = model.features(_batch(model, TEXTS[1:2]))
        padded = model.features(_batch(model, TEXTS))[1:2]  # the short text among longer ones
        for side in sides:
            model.preprocessor.padding_side = side
            assert torch.allclose(model.features(_batch(model, TEXTS))[1:2], alone, atol=1e-5)
    assert torch.allclose(padded, alone, atol=1e-5)


def test_dropout_applies_before_the_head_in_training(bert_dir):
    model = load_task_model(ModelSection(name=str(bert_dir), pooling="mean", dropout=0.5), "text", 2, None, False)
    calls = []
    model.net.dropout.register_forward_hook(lambda *_: calls.append(1))
    batch = _batch(model)
    model.train()
    torch.manual_seed(0)
    first = model(batch)
    assert calls and not torch.allclose(first, model(batch))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(batch), model(batch))


def test_mean_pooling_drops_the_unused_pooler(bert_dir):
    model = _text(bert_dir, "mean")
    assert model.net.bert.pooler is None
    assert model.layer_map.blocks[-1].params == ["classifier.weight", "classifier.bias"]
    assert "bert.pooler.dense.weight" in _text(bert_dir, "pooler").layer_map.blocks[-1].params


# -- auto follows the checkpoint -----------------------------------------------------------------

def test_auto_reads_a_sentence_transformers_config(bert_dir, tmp_path):
    model = _text(_sentence_transformers(bert_dir, tmp_path))
    assert model.pooling == "mean" and "sentence-transformers" in model.pooling_source
    assert peek_model(ModelSection(name=str(tmp_path))).pooling == "mean"


def test_auto_with_an_unsupported_sentence_transformers_mode(bert_dir, tmp_path):
    model = _text(_sentence_transformers(bert_dir, tmp_path, "pooling_mode_max_tokens"))
    assert model.pooling == "pooler" and "pooling_mode_max_tokens" in model.pooling_source


def test_auto_per_family(bert_dir, llama_dir, tmp_path):
    assert _text(bert_dir).pooling == "pooler"
    assert _text(llama_dir).pooling_source.startswith("a decoder")
    no_pooler = _text(_bert_without_pooler(bert_dir, tmp_path))  # loads: its pooler is not needed
    assert (no_pooler.pooling, no_pooler.net.bert.pooler) == ("cls", None)
    assert peek_model(ModelSection(name=str(tmp_path))).pooling == "cls"


# -- mistakes ------------------------------------------------------------------------------------

def test_pooler_without_pooler_weights_is_refused(bert_dir, tmp_path):
    folder = _bert_without_pooler(bert_dir, tmp_path)
    for call in (lambda s: load_task_model(s, "text", 2, None, False), peek_model):
        with pytest.raises(ModelError, match="model.pooling: 'pooler' needs a pre-trained pooler.*no pooler weights"):
            call(ModelSection(name=str(folder), pooling="pooler"))


@pytest.mark.parametrize("fixture,pooling,message", [
    ("llama_dir", "cls", "decoder, whose first token"), ("llama_dir", "pooler", "no pooler layer"),
    ("bert_dir", "last", "'last' is for decoders")])
def test_pooling_that_does_not_fit_the_family(fixture, pooling, message, request):
    section = ModelSection(name=str(request.getfixturevalue(fixture)), pooling=pooling)
    with pytest.raises(ModelError, match=message):
        load_task_model(section, "text", 2, None, False)
    with pytest.raises(ModelError, match=message):
        peek_model(section)


def test_image_models_keep_their_own_pooling(vit_dir, timm_weights):
    timm_section = ModelSection(name="timm:test_efficientnet", weights=str(timm_weights), pooling="cls")
    with pytest.raises(ModelError, match="model.pooling: 'cls' cannot be set .* global_pool"):
        load_task_model(timm_section, "image", 2, None, False)
    with pytest.raises(ModelError, match="model.pooling"):
        peek_model(timm_section)
    with pytest.raises(ModelError, match="model.pooling: 'mean' cannot be set"):
        load_task_model(ModelSection(name=str(vit_dir), pooling="mean"), "image", 2, None, False)
    assert load_task_model(ModelSection(name=str(vit_dir), pooling="cls"), "image", 2, None, False).pooling == "cls"


def test_unknown_pooling_is_a_schema_error():
    with pytest.raises(ValueError, match="pooling"):
        ModelSection(name="minilm-l6", pooling="max")
