"""image-multilabel end to end on a tiny timm CNN: a table of image paths with label lists trains,
tunes and saves per-label thresholds, and the saved folder reloads (timm and tuneforge) with them."""
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import tuneforge
from helpers.tiny import tiny_timm_cnn
from tuneforge.errors import TuneforgeError
from tuneforge.artefacts.evaluate_run import predict_run

COLOURS = ["blue", "green", "red"]   # label k switches channel (red, green, blue)[...] on


def colour_images(folder, n=150, seed=0) -> pd.DataFrame:
    """Images whose red / green / blue channel is bright exactly when that label is present."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    channel = {"red": 0, "green": 1, "blue": 2}
    for i in range(n):
        labels = [c for c in COLOURS if rng.random() < 0.4]
        pixels = rng.integers(0, 60, (24, 24, 3))
        for c in labels:
            pixels[..., channel[c]] += 150
        path = folder / f"{i}.png"
        Image.fromarray(pixels.astype(np.uint8)).save(path)
        rows.append({"image": f"{folder.name}/{i}.png", "tags": "|".join(labels)})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def image_ml_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("colours")
    colour_images(root / "images").to_csv(root / "tags.csv", index=False)
    weights = tiny_timm_cnn(tmp_path_factory.mktemp("cnn"))
    recipe = {"task": "image-multilabel", "model": {"name": "timm:test_efficientnet", "weights": str(weights)},
              "data": {"train": str(root / "tags.csv"), "label_column": "tags", "validation": 0.2, "test": 0.2,
                       "image_size": 32},
              "optimizer": {"lr": 3e-3}, "train": {"epochs": 3, "batch_size": 16, "seed": 0},
              "evaluate": {"bootstrap": 50, "explain": 0, "report": False},
              "output": {"dir": str(tmp_path_factory.mktemp("runs"))}}
    return tuneforge.finetune(recipe), root


def test_it_trains_and_reports_multilabel_metrics(image_ml_run):
    run, _ = image_ml_run
    m = run.metrics
    assert m["task"] == "image-multilabel" and m["data"]["label_names"] == COLOURS
    assert {"micro_f1", "macro_f1", "samples_f1", "subset_accuracy", "map", "per_label"} <= set(m["test"])
    assert m["test"]["micro_f1"] > m["baseline_majority"]["micro_f1"]
    assert m["test"]["micro_f1"] > 0.7


def test_thresholds_are_saved_and_the_folder_reloads_with_them(image_ml_run):
    import timm

    run, root = image_ml_run
    folder = run.run_dir / "model"
    thresholds = json.loads((folder / "thresholds.json").read_text())
    assert list(thresholds) == COLOURS and thresholds == dict(zip(COLOURS, run.metrics["decision"]["thresholds"]))
    config = json.loads((folder / "config.json").read_text())
    assert config["label_names"] == COLOURS and config["num_classes"] == 3

    net = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()   # plain timm reads it
    assert net.get_classifier().out_features == 3

    paths = [str(root / "images" / f"{i}.png") for i in range(6)]
    ours = run.predict(paths)
    reloaded = predict_run(run.run_dir, paths)   # from the run folder alone: model/ + thresholds.json
    for a, b in zip(ours, reloaded):
        assert a["labels"] == b["labels"]
        np.testing.assert_allclose([a["probabilities"][c] for c in COLOURS],
                                   [b["probabilities"][c] for c in COLOURS], atol=1e-5)
        assert a["labels"] == [c for c in COLOURS if a["probabilities"][c] >= thresholds[c]]


def test_an_image_folder_is_refused_with_the_reason(tmp_path):
    (tmp_path / "imgs" / "cat").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "imgs" / "cat" / "0.png")
    recipe = {"task": "image-multilabel", "model": {"name": "timm:test_efficientnet"},
              "data": {"train": str(tmp_path / "imgs")}}
    with pytest.raises(TuneforgeError, match="image-multilabel reads a table"):
        tuneforge.finetune(recipe)
