"""Shared helpers for the data-layer tests: tiny files, an offline tokenizer, a stand-in model."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from tuneforge.models.task_model import ImageSpec

FIXTURES = Path(__file__).parent / "fixtures"
WORDS = ["good", "bad", "movie", "film", "great", "awful", "plot", "the", "a", "was", "is", "very", "not"]


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def tokenizer(tmp_path):
    from transformers import BertTokenizerFast

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS) + "\n")
    return BertTokenizerFast(vocab_file=str(vocab))


@pytest.fixture
def text_model(tokenizer):
    return SimpleNamespace(preprocessor=tokenizer, modality="text")


@pytest.fixture
def image_model():
    return SimpleNamespace(preprocessor=ImageSpec(size=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)),
                           modality="image")


def write_image(path: Path, size=(12, 10), grey=False, fmt=None, seed=0) -> Path:
    """A small random PNG/JPEG (grey or RGB) at ``path``."""
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if grey else (size[1], size[0], 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path, format=fmt)
    return path


def image_folder(root: Path, per_class=3, classes=("cat", "dog"), size=(12, 10)) -> Path:
    for c, name in enumerate(classes):
        for i in range(per_class):
            write_image(root / name / f"{i}.png", size=size, grey=(i % 2 == 0), seed=10 * c + i)
    return root


@pytest.fixture
def make_image():
    """``make_image(path, size=(w, h), grey=False, fmt=None, seed=0)`` writes a small random image."""
    return write_image


@pytest.fixture
def make_image_folder():
    """``make_image_folder(root, per_class=3, classes=("cat", "dog"))`` writes one sub-folder per class."""
    return image_folder
