"""load_data: from a recipe's data section to a DataBundle."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tuneforge.data import load_data
from tuneforge.errors import DataError
from tuneforge.recipe.schema import DataSection
from tuneforge.tasks import TASKS

from helpers.fashion import needs_fashion

TEXT_CLS = TASKS.get("text-classification")
TEXT_REG = TASKS.get("text-regression")
IMAGE_CLS = TASKS.get("image-classification")


def _csv(tmp_path, name, rows, header="text,label"):
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def _reviews(n=60):
    return [f"review number {i},{['neg', 'pos', 'mid'][i % 3]}" for i in range(n)]


def test_fractions_split_train_stratified(tmp_path):
    path = _csv(tmp_path, "train.csv", _reviews(60) + ["review number 0,neg", ",pos"])
    bundle = load_data(DataSection(train=str(path), validation=0.1, test=0.2), TEXT_CLS, seed=1)
    assert bundle.sizes() == {"train": 42, "validation": 6, "test": 12}
    assert bundle.label_names == ["mid", "neg", "pos"]
    assert bundle.cleaning[0].dropped == {"missing text": 1, "duplicate text": 1}
    assert np.bincount(bundle.test.targets).tolist() == [4, 4, 4]
    texts = bundle.train.inputs + bundle.validation.inputs + bundle.test.inputs
    assert len(set(texts)) == 60
    again = load_data(DataSection(train=str(path), validation=0.1, test=0.2), TEXT_CLS, seed=1)
    assert again.test.inputs == bundle.test.inputs
    assert "held out" in bundle.description["test"]["how"]


def test_separate_files_and_unknown_label(tmp_path):
    train = _csv(tmp_path, "train.csv", _reviews(30))
    val = _csv(tmp_path, "val.csv", ["fine,pos", "meh,mid"])
    bundle = load_data(DataSection(train=str(train), validation=str(val), test=None), TEXT_CLS, 0)
    assert bundle.test is None and bundle.validation.targets.tolist() == [2, 0]
    assert len(bundle.cleaning) == 2
    bad = _csv(tmp_path, "bad.csv", ["fine,pos", "odd,posative"])
    with pytest.raises(DataError, match=r"row 2 \(line 3 of .*bad.csv\): label 'posative' is not one of the "
                                        r"classes seen in train: mid, neg, pos"):
        load_data(DataSection(train=str(train), validation=str(bad), test=None), TEXT_CLS, 0)


def test_declared_labels(tmp_path):
    train = _csv(tmp_path, "train.csv", ["a,0", "b,1", "c,1", "d,2"])
    bundle = load_data(DataSection(train=str(train), validation=None, test=None, labels=["2", "1", "0"]),
                       TEXT_CLS, 0)
    assert bundle.label_names == ["2", "1", "0"] and bundle.train.targets.tolist() == [2, 1, 1, 0]
    with pytest.raises(DataError, match=r"row 4 .*label '2' is not one of the declared classes.*data.labels"):
        load_data(DataSection(train=str(train), validation=None, test=None, labels=["0", "1"]), TEXT_CLS, 0)


def test_numeric_labels_sort_numerically(tmp_path):
    train = pd.DataFrame({"text": [f"t{i}" for i in range(12)], "label": [10, 2, 1] * 4})
    bundle = load_data(DataSection(train=train, validation=None, test=None), TEXT_CLS, 0)
    assert bundle.label_names == ["1", "2", "10"]


def test_missing_column_lists_columns(tmp_path):
    train = _csv(tmp_path, "train.csv", _reviews(6))
    with pytest.raises(DataError, match=r"data.label_column: column 'lable' is not in .*train.csv "
                                        r"\(columns: text, label; did you mean \"label\"\?\)"):
        load_data(DataSection(train=str(train), label_column="lable"), TEXT_CLS, 0)


def test_nothing_left_after_cleaning(tmp_path):
    train = _csv(tmp_path, "train.csv", [",a", " ,b"])
    with pytest.raises(DataError, match="no rows left in train after cleaning: .*2 missing text"):
        load_data(DataSection(train=str(train)), TEXT_CLS, 0)


def test_regression_and_max_samples():
    df = pd.DataFrame({"text": [f"t{i}" for i in range(100)], "label": np.arange(100.0)})
    bundle = load_data(DataSection(train=df, max_train_samples=20, max_eval_samples=5), TEXT_REG, 0)
    assert bundle.sizes() == {"train": 20, "validation": 5, "test": 5}
    assert bundle.train.targets.dtype == np.float32 and bundle.label_names is None


def test_tweets_end_to_end():
    bundle = load_data(DataSection(train="tweets", label_column="sentiment", max_eval_samples=300), TEXT_CLS, 42)
    report = bundle.cleaning[0]
    print(report.summary(), bundle.sizes())
    assert report.rows_read == 38158 and report.dropped["duplicate text"] > 0
    assert bundle.sizes()["validation"] == 300 and bundle.label_names == ["negative", "neutral", "positive"]


def test_image_folder_and_csv_of_paths(tmp_path, make_image_folder, make_image):
    folder = make_image_folder(tmp_path / "imgs", per_class=4, size=(12, 10))
    bundle = load_data(DataSection(train=str(folder), validation=None, test=0.5, image_size=16), IMAGE_CLS, 0)
    assert bundle.train.inputs.shape == (4, 3, 16, 16) and bundle.test.inputs.shape == (4, 3, 16, 16)
    assert bundle.label_names == ["cat", "dog"]
    make_image(tmp_path / "t" / "pics" / "a.png", grey=True)
    make_image(tmp_path / "t" / "pics" / "b.png", grey=True, seed=1)
    table = _csv(tmp_path / "t", "train.csv", ["pics/a.png,x", "pics/b.png,y"], header="image,label")
    bundle = load_data(DataSection(train=str(table), validation=None, test=None), IMAGE_CLS, 0)
    assert bundle.train.inputs.shape == (2, 1, 10, 12)
    escape = _csv(tmp_path / "t", "escape.csv", ["../imgs/cat/0.png,x"], header="image,label")
    with pytest.raises(DataError, match=r"row 1 \(line 2 of .*escape.csv\).*outside data.root"):
        load_data(DataSection(train=str(escape), validation=None, test=None, root=str(tmp_path / "t")),
                  IMAGE_CLS, 0)


def test_digits():
    bundle = load_data(DataSection(train="digits"), IMAGE_CLS, 0)
    assert bundle.train.inputs.shape[1:] == (1, 8, 8) and bundle.train.inputs.dtype == torch.uint8
    assert bundle.label_names == [str(d) for d in range(10)] and sum(bundle.sizes().values()) == 1797


@needs_fashion
def test_fashion_mnist_bundle():
    bundle = load_data(DataSection(train="fashion-mnist", test="fashion-mnist:test", max_train_samples=1000),
                       IMAGE_CLS, 0)
    assert bundle.sizes() == {"train": 1000, "validation": 6000, "test": 10000}
    assert bundle.train.inputs.shape == (1000, 1, 28, 28)
    assert bundle.label_names[0] == "T-shirt/top" and bundle.label_names[9] == "Ankle boot"
