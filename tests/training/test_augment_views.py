"""data.augment_views: with K fixed augmented views per image, the frozen-prefix cache stays on with augmentation
and records each view once (epoch e trains on view e mod K): training from the cache ends with the parameters
that the same views give without it, a view of an image is the same in any batch, and the cache is off (with
the reason) when the frozen blocks do not stay frozen for more than K epochs. A crashed augmented run (with
mixup, or with views and the cache) resumes exactly."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tuneforge.data.encode import EncodedSplit
from tuneforge.errors import DataError

sys.path.insert(0, str(Path(__file__).parent.parent / "strategies"))
import kit  # noqa: E402

N, EPOCHS, VIEWS = 40, 4, 2  # 5 batches of 8
PROBE = {"name": "linear-probe", "warm_head": False}
AUGMENT = ["hflip", {"name": "crop", "scale": [0.5, 1.0]}, "color-jitter"]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    return kit.build_tiny(tmp_path_factory.mktemp("tiny"))


def views_split(model, views=VIEWS, augment=AUGMENT) -> EncodedSplit:
    base = kit.split(model, n=N)
    return EncodedSplit(base.targets, pixels=base.pixels, spec=base.spec, augment=augment, views=views,
                        num_classes=kit.K)


def test_a_view_of_an_image_is_the_same_in_any_batch(tiny_models):
    data = views_split(kit.load(tiny_models, "cnn"))
    a = data.batch(np.array([0, 1, 2]), train=True, view=7)["pixel_values"]
    b = data.batch(np.array([5, 2, 0]), train=True, view=7, generator=torch.Generator().manual_seed(3))["pixel_values"]
    assert torch.equal(a[0], b[2]) and torch.equal(a[2], b[1])
    assert not torch.equal(a, data.batch(np.array([0, 1, 2]), train=True, view=8)["pixel_values"])  # another view
    assert not torch.equal(a, data.batch(np.array([0, 1, 2]))["pixel_values"])                      # augmented
    with pytest.raises(DataError, match="augment_views"):
        views_split(kit.load(tiny_models, "cnn"), augment=["hflip", "mixup"])


def test_cached_training_with_views_matches_uncached(tiny_models):
    runs = {}
    for cache in ("off", "on"):
        model = kit.load(tiny_models, "cnn")
        over = {"train.epochs": EPOCHS, "train.cache_frozen": cache}
        tr, _ = kit.trainer(model, PROBE, data=views_split(model), **over)
        tr.fit()
        runs[cache] = (tr, kit.params(model))
    assert not runs["off"][0].prefix_cache.active
    cached = runs["on"][0].prefix_cache
    (segment,) = cached.describe()["segments"]
    assert segment["recorded_batches"] == 5 * VIEWS and segment["replayed_batches"] == 5 * (EPOCHS - VIEWS)
    assert "recorded in the first 2 epochs (one per augmented view" in cached.summary()
    worst = max((runs["off"][1][n] - runs["on"][1][n]).abs().max().item() for n in runs["on"][1])
    assert worst <= 1e-5, worst
    assert kit.changed(runs["on"][1], kit.params(kit.load(tiny_models, "cnn")))  # it did train


def test_views_need_the_blocks_frozen_for_more_than_k_epochs(tiny_models):
    model = kit.load(tiny_models, "cnn")
    tr, _ = kit.trainer(model, PROBE, data=views_split(model, views=3), **{"train.epochs": 3})
    assert not tr.prefix_cache.active
    assert "no frozen bottom blocks stay frozen for more than 3 epochs (data.augment_views)" in tr.prefix_cache.reason
    tr, _ = kit.trainer(model, PROBE, data=views_split(model, views=3), **{"train.epochs": 4})
    assert tr.prefix_cache.active


@pytest.mark.parametrize("augment, views, cache", [(["hflip", "crop", "color-jitter", "mixup"], None, "auto"),
                                                   (AUGMENT, VIEWS, "on")])
def test_a_crashed_augmented_run_resumes_exactly(tiny_models, tmp_path, augment, views, cache):
    def go(run_dir, callbacks, resume=False):
        model = kit.load(tiny_models, "cnn")
        tr, _ = kit.trainer(model, PROBE, data=views_split(model, views, augment), run_dir=run_dir,
                            callbacks=callbacks, **{"train.epochs": EPOCHS, "train.cache_frozen": cache})
        tr.fit(resume=resume)
        return tr, kit.params(model)

    _, full = go(tmp_path / "a", [])
    with pytest.raises(KeyboardInterrupt):  # resumes from step 6, mid-way through the second epoch
        go(tmp_path / "b", [kit.Checkpointer(3), kit.Crash(8)])
    resumed, params = go(tmp_path / "b", [kit.Checkpointer(3)], resume=True)
    assert resumed.state.step == 5 * EPOCHS
    worst = max((full[n] - params[n]).abs().max().item() for n in full)
    assert worst <= 1e-5, worst
