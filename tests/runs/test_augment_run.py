"""End-to-end image runs with data.augment on a tiny timm CNN: the run trains, saves and reports the grid of
augmented training images; mixup trains on soft targets while evaluation keeps class ids; and augmentation
turns the frozen-prefix cache off (with the reason) where the same run without it would use the cache."""
import json

import numpy as np
import pytest
import yaml
from PIL import Image

import tuneforge


@pytest.fixture(scope="module")
def shades(tmp_path_factory):
    """Dark and light 32x32 noise images, 16 of each (a task a tiny CNN learns at once)."""
    root = tmp_path_factory.mktemp("shades")
    rng = np.random.default_rng(0)
    for c, base in (("dark", 60), ("light", 190)):
        (root / c).mkdir()
        for i in range(16):
            pixels = (base + rng.integers(-40, 40, (32, 32, 3))).clip(0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / c / f"{i}.png")
    return root


def recipe(shades, weights, out, augment, **strategy):
    return {"task": "image-classification", "model": {"name": "timm:test_efficientnet", "weights": str(weights)},
            "data": {"train": str(shades), "validation": 0.25, "test": 0.25, "image_size": 32, "augment": augment},
            "strategy": strategy or {"name": "full"}, "optimizer": {"lr": 1e-2},
            "train": {"epochs": 2, "batch_size": 8, "seed": 1}, "output": {"dir": str(out)}}


def test_medium_run_trains_and_its_report_shows_what_the_model_sees(shades, cnn_weights, tmp_path):
    result = tuneforge.finetune(recipe(shades, cnn_weights, tmp_path, "medium"))
    d = result.run_dir
    saved = yaml.safe_load((d / "recipe.yaml").read_text())["data"]["augment"]
    assert [e["name"] for e in saved] == ["hflip", "crop", "rotation", "color-jitter"]  # the preset, spelled out
    history = [json.loads(line) for line in (d / "history.jsonl").read_text().splitlines()]
    losses = [h["train_loss"] for h in history if h.get("train_loss") is not None]
    assert losses and all(np.isfinite(losses))
    assert result.metrics["test"]["accuracy"] >= 0.75
    with Image.open(d / "augment_grid.png") as grid:
        assert grid.width > grid.height > 100
    report = (d / "report.html").read_text()
    assert "What the model sees: augmentation" in report
    assert "data.augment: hflip, crop, rotation, color-jitter" in report
    assert report.count("data:image/png;base64") >= 2  # the grid among the other figures


def test_mixup_trains_on_soft_targets_and_evaluates_on_class_ids(shades, cnn_weights, tmp_path):
    r = recipe(shades, cnn_weights, tmp_path, ["light", "mixup"])
    r["evaluate"] = {"baseline": False, "bootstrap": 0, "explain": 0, "report": False}  # only training matters here
    r["output"]["save_model"] = False
    result = tuneforge.finetune(r)
    lines = (result.run_dir / "history.jsonl").read_text().splitlines()
    losses = [json.loads(line)["train_loss"] for line in lines]
    assert all(np.isfinite([x for x in losses if x is not None]))
    assert set(result.metrics["test"]["per_class"]) == {"dark", "light"} and result.metrics["test"]["accuracy"] >= 0.75


def test_augmentation_turns_the_cache_off_where_it_would_be_on(shades, cnn_weights, tmp_path):
    from rich.console import Console

    from tuneforge.recipe import load_recipe
    from tuneforge.runs.pipeline import prepare
    from tuneforge.training import build_trainer

    def cache(augment):  # the cache is planned and probed when the trainer is built
        p = prepare(load_recipe(recipe(shades, cnn_weights, tmp_path, augment, name="linear-probe",
                                       warm_head=False)), Console(quiet=True))
        return build_trainer(p.model, p.task, p.recipe, p.strategy, p.encoded["train"]).prefix_cache

    assert cache([]).active  # the frozen body is cached without augmentation
    off = cache(["hflip"])
    assert not off.active and "data.augment (hflip) changes the images in every epoch" in off.summary()
    assert off.describe()["reason"] == off.reason and not off.describe()["used"]
