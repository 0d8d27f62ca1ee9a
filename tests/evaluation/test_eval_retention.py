"""Retention is 1.0 for an untouched model and falls for a model fine-tuned to another task."""
import numpy as np
import pytest
from rich.console import Console

from tuneforge.evaluation.representation import linear_cka, prediction_agreement, similarity_preservation
from tuneforge.recipe import load_recipe
from tuneforge.runs.pipeline import prepare
from tuneforge.analysis.random_init import randomise
from tuneforge.analysis.retention import measure_retention

from runs.conftest import text_recipe


def test_cka_and_similarity_are_one_for_the_same_representation_and_invariant_to_rotation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 8))
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, 3 * x @ q) == pytest.approx(1.0)
    assert linear_cka(x, rng.normal(size=(50, 8))) < 0.5
    assert similarity_preservation(x, x) == pytest.approx(1.0)
    assert prediction_agreement(x, x) == 1.0


@pytest.fixture(scope="module")
def prepared(bert_dir, text_csv, tmp_path_factory):
    recipe = load_recipe(text_recipe(bert_dir, text_csv, tmp_path_factory.mktemp("ret"),
                                     **{"evaluate.retention": {"probe_size": 30}}))
    return prepare(recipe, Console(quiet=True))


def test_untouched_model_retains_everything(prepared):
    r = measure_retention(prepared, prepared.model, "cpu")
    assert r["score"] == pytest.approx(1.0) and r["embedding_spearman"] == pytest.approx(1.0)
    assert all(v == pytest.approx(1.0) for v in r["cka"].values()) and len(r["cka"]) == 3


def test_model_trained_to_another_task_retains_less(prepared):
    from tuneforge.analysis.retention import _pretrained_copy
    from tuneforge.strategies import Strategy
    from tuneforge.training import build_trainer

    model = _pretrained_copy(prepared)
    strategy = Strategy.from_section(prepared.recipe.strategy)
    build_trainer(model, prepared.task, prepared.recipe, strategy, prepared.encoded["train"]).fit()
    r = measure_retention(prepared, model, "cpu")
    assert r["score"] < 0.99 and r["mean_cka"] < 0.99


def test_labelled_source_data_gives_its_metric_before_and_after(prepared, text_csv):
    from tuneforge.recipe.schema import RetentionSection
    p = prepared
    p.recipe.evaluate.retention = RetentionSection(data=str(text_csv), probe_size=60)
    try:
        same = measure_retention(p, p.model, "cpu")["source_task"]
        assert same["before"] == same["after"] and same["examples"] == 60
    finally:
        p.recipe.evaluate.retention = RetentionSection(probe_size=30)


def test_random_init_replaces_every_pretrained_weight(prepared):
    from tuneforge.analysis.retention import _pretrained_copy
    fresh = randomise(_pretrained_copy(prepared), seed=0)
    before = dict(prepared.model.net.named_parameters())
    changed = [n for n, w in fresh.net.named_parameters() if "classifier" not in n and not (w == before[n]).all()]
    total = [n for n, _ in fresh.net.named_parameters() if "classifier" not in n]
    # LayerNorm weights/biases reset to ones/zeros may equal the tiny model's own init; all others change
    assert len(changed) >= len([n for n in total if "LayerNorm" not in n])


def test_vision_original_head_agreement_is_one_untouched_and_falls_after_training(tmp_path):
    from PIL import Image

    from helpers.tiny import tiny_timm_cnn
    from tuneforge.analysis.retention import _pretrained_copy
    from tuneforge.strategies import Strategy
    from tuneforge.training import build_trainer

    rng = np.random.default_rng(0)
    for c, base in (("dark", 60), ("light", 190)):
        (tmp_path / "imgs" / c).mkdir(parents=True)
        for i in range(10):
            pixels = (base + rng.integers(-40, 40, (32, 32, 3))).clip(0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "imgs" / c / f"{i}.png")
    recipe = load_recipe({"task": "image-classification", "data": {"train": str(tmp_path / "imgs"),
                                                                   "validation": None, "test": 0.4, "image_size": 32},
                          "model": {"name": "timm:test_efficientnet", "weights": str(tiny_timm_cnn(tmp_path / "w"))},
                          "optimizer": {"lr": 1e-2}, "train": {"epochs": 2, "batch_size": 4},
                          "evaluate": {"retention": {"probe_size": 8}}, "output": {"dir": str(tmp_path / "o")}})
    p = prepare(recipe, Console(quiet=True))
    assert measure_retention(p, p.model, "cpu")["original_head_agreement"] == 1.0
    model = _pretrained_copy(p)
    build_trainer(model, p.task, recipe, Strategy.from_section(recipe.strategy), p.encoded["train"]).fit()
    after = measure_retention(p, model, "cpu")
    assert after["original_head_agreement"] < 1.0 and after["score"] == after["original_head_agreement"]
