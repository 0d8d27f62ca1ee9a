"""Whole-split prediction: original order, eval mode restored, no autograd."""
import numpy as np
import pytest
import torch
from torch import nn

import tuneforge.evaluation.predict as predict_module
from tuneforge.evaluation import extract_features, predict_outputs


class FakeSplit:
    """Stands in for data.encode.EncodedSplit: example i carries its own id, padded to its batch."""

    def __init__(self, lengths, regression=False):
        self.lengths = np.asarray(lengths)
        self.regression = regression
        self.batches_seen = []

    def __len__(self):
        return len(self.lengths)

    def batch(self, indices, train=False, generator=None):
        self.batches_seen.append(np.asarray(indices).copy())
        width = int(self.lengths[indices].max())
        ids = torch.as_tensor(indices, dtype=torch.float32).unsqueeze(1)
        targets = (torch.as_tensor(indices, dtype=torch.float32) / 2 if self.regression
                   else torch.as_tensor(indices % 3, dtype=torch.int64))
        return {"ids": ids, "input_ids": torch.zeros(len(indices), width, dtype=torch.long), "targets": targets}


def sorted_batch_order(n, batch_size, seed, epoch, shuffle=True, lengths=None, drop_last=False):
    """Longest first, like a length-grouped evaluation order."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


class IdentityModel(nn.Module):
    """Outputs (id, 2*id, ...) so the caller can see which example each row came from."""

    def __init__(self, num_outputs=2):
        super().__init__()
        self.num_outputs = num_outputs
        self.linear = nn.Linear(1, num_outputs)
        self.dropout = nn.Dropout(0.5)
        with torch.no_grad():
            self.linear.weight.copy_(torch.arange(1, num_outputs + 1, dtype=torch.float32).unsqueeze(1))
            self.linear.bias.zero_()
        self.calls = []

    def forward(self, batch):
        self.calls.append((self.training, self.dropout.training, torch.is_grad_enabled(),
                           torch.is_inference_mode_enabled(), torch.is_autocast_enabled("cpu")))
        return self.dropout(self.linear(batch["ids"]))

    def features(self, batch):
        self.calls.append((self.training, self.dropout.training, torch.is_grad_enabled(),
                           torch.is_inference_mode_enabled(), torch.is_autocast_enabled("cpu")))
        return batch["ids"].repeat(1, 3) + 0.5


@pytest.fixture
def fake_order(monkeypatch):
    monkeypatch.setattr(predict_module, "_batch_order",
                        lambda n, bs, lengths: sorted_batch_order(n, bs, 0, 0, False, lengths))


LENGTHS = [3, 17, 5, 9, 1, 12, 12, 4, 30, 2, 8]


def test_outputs_come_back_in_original_order(fake_order):
    split = FakeSplit(LENGTHS)
    model = IdentityModel()
    out = predict_outputs(model, split, batch_size=4)
    first = split.batches_seen[0]
    assert list(first) != list(range(4)), "the fake batching must actually reorder"
    assert out.dtype == np.float32 and out.shape == (len(LENGTHS), 2)
    np.testing.assert_array_equal(out[:, 0], np.arange(len(LENGTHS)))
    np.testing.assert_array_equal(out[:, 1], 2 * np.arange(len(LENGTHS)))


def test_regression_output_is_squeezed(fake_order):
    out = predict_outputs(IdentityModel(num_outputs=1), FakeSplit(LENGTHS, regression=True), batch_size=3)
    assert out.shape == (len(LENGTHS),)
    np.testing.assert_array_equal(out, np.arange(len(LENGTHS)))


def test_eval_mode_no_grad_and_modes_restored(fake_order):
    model = IdentityModel()
    model.train()
    model.dropout.eval()        # a submodule deliberately kept in eval (e.g. frozen BatchNorm)
    predict_outputs(model, FakeSplit(LENGTHS), batch_size=5)
    for training, dropout_training, grad, inference, _ in model.calls:
        assert not training and not dropout_training and not grad and inference
    assert model.training and not model.dropout.training and model.linear.training
    model.eval()
    predict_outputs(model, FakeSplit(LENGTHS), batch_size=5)
    assert not model.training


def test_modes_restored_after_an_error(fake_order):
    model = IdentityModel().train()

    class Broken(FakeSplit):
        def batch(self, indices, train=False, generator=None):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        predict_outputs(model, Broken(LENGTHS), batch_size=4)
    assert model.training


def test_autocast_outputs_are_float32(fake_order):
    model = IdentityModel()
    out = predict_outputs(model, FakeSplit(LENGTHS), batch_size=4, autocast_dtype=torch.bfloat16)
    assert all(call[4] for call in model.calls)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], np.arange(len(LENGTHS)), rtol=1e-2)


def test_extract_features_keeps_order_and_target_dtype(fake_order):
    feats, targets = extract_features(IdentityModel(), FakeSplit(LENGTHS), batch_size=4)
    assert feats.shape == (len(LENGTHS), 3) and feats.dtype == np.float32
    np.testing.assert_array_equal(feats[:, 0], np.arange(len(LENGTHS)) + 0.5)
    assert targets.dtype == np.int64
    np.testing.assert_array_equal(targets, np.arange(len(LENGTHS)) % 3)
    _, reg_targets = extract_features(IdentityModel(), FakeSplit(LENGTHS, regression=True), batch_size=4)
    assert reg_targets.dtype == np.float32
    np.testing.assert_array_equal(reg_targets, np.arange(len(LENGTHS)) / 2)


def test_with_the_real_batch_order():
    pytest.importorskip("tuneforge.data.encode")
    split = FakeSplit(LENGTHS)
    out = predict_outputs(IdentityModel(), split, batch_size=4)
    np.testing.assert_array_equal(out[:, 0], np.arange(len(LENGTHS)))
    seen = np.concatenate(split.batches_seen)
    assert sorted(seen.tolist()) == list(range(len(LENGTHS)))
