"""The shipped recipes run end to end with the real pre-trained models (on small subsets)."""
from pathlib import Path

import pytest

import tuneforge

from helpers.fashion import needs_fashion

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.real


def test_demo_recipe_end_to_end(tmp_path):
    r = tuneforge.finetune(ROOT / "recipes" / "demo.yaml", {
        "data.max_train_samples": 240, "data.max_eval_samples": 150, "train.epochs": 1,
        "output.dir": str(tmp_path)})
    m = r.metrics
    assert m["data"]["cleaning"][0]["dropped"].get("duplicate text", 0) > 0
    assert m["test"]["accuracy"] > 0.34 and m["baseline"]["accuracy"] > 0.34
    assert (r.run_dir / "model" / "config.json").is_file()
    preds = r.predict(["I love self-driving cars, they are wonderful"])
    assert set(preds[0]["probabilities"]) == {"negative", "neutral", "positive"}


@needs_fashion
def test_fashion_mnist_recipe_end_to_end(tmp_path):
    r = tuneforge.finetune(ROOT / "recipes" / "fashion-mnist-efficientnet.yaml", {
        "data.max_train_samples": 320, "data.max_eval_samples": 100, "train.epochs": 2, "train.batch_size": 32,
        "data.image_size": 64, "output.dir": str(tmp_path)})
    assert r.metrics["test"]["accuracy"] > 0.3          # 10 classes: chance is 0.1
    assert r.metrics["baseline"]["accuracy"] > 0.3
    assert (r.run_dir / "model" / "model.safetensors").is_file()


def test_regression_recipe_end_to_end(tmp_path):
    r = tuneforge.finetune(ROOT / "recipes" / "tweets-confidence-regression.yaml", {
        "data.max_train_samples": 240, "data.max_eval_samples": 150, "train.epochs": 1,
        "output.dir": str(tmp_path)})
    cleaning = r.metrics["data"]["cleaning"][0]
    assert cleaning["dropped"].get("missing target", 0) > 5000
    assert {"mse", "mae", "r2"} <= set(r.metrics["test"])
    value = r.predict(["meh"])[0]["value"]
    assert 0.0 < value < 1.5   # confidence lives in [0, 1]; reported in original units
