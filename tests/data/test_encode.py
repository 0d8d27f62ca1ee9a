"""Encoding splits into batches, and the order of batches."""
from __future__ import annotations

import numpy as np
import torch

from tuneforge.data import Split, batch_order, encode_split, padding_fraction
from tuneforge.recipe.schema import DataSection


def test_text_is_tokenised_once_and_padded_per_batch(text_model):
    split = Split(["good", "the movie was very good", "bad film"], np.array([1, 1, 0]))
    enc = encode_split(split, text_model, DataSection(train="x", max_length=5))
    assert enc.lengths.tolist() == [3, 5, 4] and len(enc) == 3   # [CLS] ... [SEP], truncated at 5
    batch = enc.batch(np.array([0, 2]))
    assert batch["input_ids"].shape == (2, 4) and batch["input_ids"].dtype == torch.int64
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    assert batch["input_ids"][0, 3] == text_model.preprocessor.pad_token_id
    assert batch["targets"].tolist() == [1, 0] and batch["targets"].dtype == torch.int64


def test_regression_targets_transformed_once(text_model):
    split = Split(["good", "bad"], np.array([2.0, 4.0], dtype=np.float32))
    enc = encode_split(split, text_model, DataSection(train="x"), targets_transform=lambda y: (y - 3.0) / 1.0)
    targets = enc.batch(np.array([0, 1]))["targets"]
    assert targets.dtype == torch.float32 and targets.tolist() == [-1.0, 1.0]


def test_image_batches(image_model):
    pixels = torch.randint(0, 256, (6, 1, 8, 8), dtype=torch.uint8)
    split = Split(pixels, np.arange(6) % 2)
    enc = encode_split(split, image_model, DataSection(train="x", augment=["hflip", "crop"]))
    plain = enc.batch(np.array([0, 1, 2]))
    assert plain["pixel_values"].shape == (3, 3, 16, 16) and "input_ids" not in plain
    assert torch.equal(plain["pixel_values"], enc.batch(np.array([0, 1, 2]), train=False,
                                                        generator=torch.Generator())["pixel_values"])
    aug = enc.batch(np.array([0, 1, 2]), train=True, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(aug["pixel_values"], plain["pixel_values"])


def _covers(batches, n):
    flat = np.concatenate(batches)
    return len(flat) == n and np.array_equal(np.sort(flat), np.arange(n))


def test_batch_order_is_deterministic_and_complete():
    a = batch_order(103, 10, seed=1, epoch=0)
    assert _covers(a, 103) and [len(b) for b in a].count(10) == 10
    assert all(np.array_equal(x, y) for x, y in zip(a, batch_order(103, 10, seed=1, epoch=0)))
    assert not np.array_equal(np.concatenate(a), np.concatenate(batch_order(103, 10, seed=1, epoch=1)))
    dropped = batch_order(103, 10, seed=1, epoch=0, drop_last=True)
    assert len(dropped) == 10 and all(len(b) == 10 for b in dropped)
    assert np.array_equal(np.concatenate(batch_order(25, 10, 0, 0, shuffle=False)), np.arange(25))


def test_length_grouping_cuts_padding():
    rng = np.random.default_rng(0)
    lengths = np.minimum(rng.lognormal(3.0, 1.0, 5000).astype(int) + 2, 512)  # skewed, like real texts
    grouped = batch_order(len(lengths), 32, seed=0, epoch=0, lengths=lengths)
    plain = batch_order(len(lengths), 32, seed=0, epoch=0)
    assert _covers(grouped, len(lengths))
    g, p = padding_fraction(lengths, grouped), padding_fraction(lengths, plain)
    print(f"padding: grouped {g:.1%} vs random {p:.1%}")
    assert g < p / 3
    again = batch_order(len(lengths), 32, seed=0, epoch=0, lengths=lengths)
    assert all(np.array_equal(x, y) for x, y in zip(grouped, again))
    inference = batch_order(len(lengths), 32, 0, 0, shuffle=False, lengths=lengths)
    flat = np.concatenate(inference)
    assert _covers(inference, len(lengths)) and np.all(np.diff(lengths[flat]) >= 0)
