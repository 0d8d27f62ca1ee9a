"""train.workers: batches built ahead in worker processes are the same tensors as batches built one by one
(augmentation with crops, flips, colour jitter and mixup included), and a run with workers ends with
bit-identical parameters to one without."""
import sys
from pathlib import Path

import pytest
import torch

from tuneforge.data.encode import EncodedSplit, batch_order
from tuneforge.training.prefetch import BatchWorkers, EpochBatches

sys.path.insert(0, str(Path(__file__).parent.parent / "strategies"))
import kit  # noqa: E402

AUGMENT = ["hflip", {"name": "crop", "scale": [0.5, 1.0]}, "color-jitter", "mixup"]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    return kit.build_tiny(tmp_path_factory.mktemp("tiny"))


def augmented(model, n=40) -> EncodedSplit:
    base = kit.split(model, n=n)
    return EncodedSplit(base.targets, pixels=base.pixels, spec=base.spec, augment=AUGMENT, num_classes=kit.K)


def test_prefetched_batches_equal_batches_built_in_turn(tiny_models):
    data = augmented(kit.load(tiny_models, "cnn"))
    order = batch_order(len(data), 8, seed=3, epoch=1)
    plain = EpochBatches(data, order, seed=3, epoch=1)
    with BatchWorkers(data, 2) as pool:
        ahead = EpochBatches(data, order, 3, 1, pool)
        for bi in [0, 1, 3, 4]:  # batch 2 never asked for (as after a skipped batch): dropped, no harm
            (ia, a), (ib, b) = plain.get(bi), ahead.get(bi)
            assert (ia == ib).all() and a.keys() == b.keys()
            assert all(torch.equal(a[k], b[k]) for k in a)
        assert not ahead.pending
    other = EpochBatches(data, order, seed=3, epoch=2).get(0)[1]["pixel_values"]
    assert not torch.equal(other, EpochBatches(data, order, seed=3, epoch=1).get(0)[1]["pixel_values"])


def test_a_run_with_workers_equals_one_without(tiny_models):
    runs = {}
    for workers in (0, 2):
        model = kit.load(tiny_models, "cnn")
        tr, _ = kit.trainer(model, {"name": "full", "warm_head": False}, data=augmented(model, n=24),
                            **{"train.epochs": 1, "train.workers": workers, "train.precision": "fp32"})
        tr.fit()
        runs[workers] = kit.params(model)
    assert not kit.changed(runs[0], runs[2])
    assert kit.changed(runs[0], kit.params(kit.load(tiny_models, "cnn")))  # it did train
