"""Shared helpers for the data-layer tests: tiny files, an offline tokenizer, a stand-in model."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

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
