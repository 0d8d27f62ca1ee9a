"""Frozen-prefix caching: training from the cache ends with the parameters that training without it
gives (within atol 1e-5: re-padded batches may round the frozen compute differently; attention key
biases are compared through the outputs, see :data:`NO_GRADIENT`), the frozen
blocks really stop running after the first epoch, the cache follows gradual unfreezing down, is off
where it cannot be exact (augmentation, bn: train), and a crashed run resumes with it.
The linear probes here train their head by SGD (``warm_head: false``): a solved probe takes no step."""
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tuneforge.data.encode import EncodedSplit
from tuneforge.errors import RecipeError
from tuneforge.strategies.base import Plan, Stage
from tuneforge.prefix_cache.store import RowStore
from tuneforge.prefix_cache.cache import choose_prefixes

sys.path.insert(0, str(Path(__file__).parent.parent / "strategies"))
import kit  # noqa: E402

ATOL = 1e-5
EPOCHS = 4
N = 40  # 5 batches of 8
# An attention key bias adds q.b to every score of a query, which the softmax cancels: its gradient is zero in
# exact arithmetic, and what AdamW divides by its own running RMS is rounding noise, turned into steps of up to
# lr. Re-padded batches round the frozen compute differently (CPU softmax/matmul kernels reduce in another
# order at another width: up to 2.4e-7 in a few real tokens with AVX2, bit-identical with
# ATEN_CPU_CAPABILITY=default), so these biases alone drift apart (measured 1.2e-4 to 5.7e-4 on a 2-core AVX2
# machine) while the two networks still compute the same function: they are checked through the outputs.
NO_GRADIENT = re.compile(r"attention\.self\.key\.bias$")


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    return kit.build_tiny(tmp_path_factory.mktemp("tiny"))


def train(tiny_models, family, strategy, cache, data=None, run_dir=None, callbacks=(), resume=False, **over):
    model = kit.load(tiny_models, family)
    tr, _ = kit.trainer(model, strategy, data=data if data is not None else kit.split(model, n=N),
                        run_dir=run_dir, callbacks=callbacks,
                        **{"train.epochs": EPOCHS, "train.cache_frozen": cache, **over})
    tr.fit(resume=resume)
    return tr, model


def assert_close(a, b):
    worst = max((a[n] - b[n]).abs().max().item() for n in a if not NO_GRADIENT.search(n))
    assert worst <= ATOL, worst


def assert_same_outputs(m_a, m_b):
    """The two trained models give the same outputs (eval mode) on the training examples."""
    batch = kit.split(m_a, n=N).batch(np.arange(N))
    outs = []
    for m in (m_a, m_b):
        was = m.net.training
        m.net.eval()
        with torch.no_grad():
            outs.append(m(batch).float())
        m.net.train(was)
    worst = (outs[0] - outs[1]).abs().max().item()
    assert worst <= ATOL, worst


@pytest.mark.parametrize("family,strategy,stores", [
    ("bert", {"name": "linear-probe", "warm_head": False}, "the first token"),
    ("bert", {"name": "freeze", "top_blocks": 1}, "the real tokens"),
    ("cnn", {"name": "linear-probe", "warm_head": False}, "the pooled features"),
])
def test_cached_training_matches_uncached(tiny_models, family, strategy, stores):
    plain, m_plain = train(tiny_models, family, strategy, "off")
    cached, m_cached = train(tiny_models, family, strategy, "on")
    assert not plain.prefix_cache.active
    info = cached.prefix_cache.describe()
    (segment,) = info["segments"]
    assert info["used"] and segment["stores"] == stores
    assert segment["recorded_batches"] == 5 and segment["replayed_batches"] == 5 * (EPOCHS - 1)
    assert segment["bytes"] > 0 and not segment["on_disk"]
    assert_close(kit.params(m_plain), kit.params(m_cached))
    assert_same_outputs(m_plain, m_cached)
    assert kit.changed(kit.params(m_cached), kit.params(kit.load(tiny_models, family)))  # it did train


def test_frozen_blocks_stop_running_after_the_first_epoch(tiny_models):
    model = kit.load(tiny_models, "bert")
    tr, _ = kit.trainer(model, {"name": "linear-probe", "warm_head": False}, data=kit.split(model, n=N), **{"train.epochs": 3})
    calls = {"frozen": 0, "head": 0}
    net = model.net
    net.get_submodule("bert.encoder.layer.0.attention.self.query").register_forward_hook(
        lambda *a: calls.__setitem__("frozen", calls["frozen"] + 1))
    net.get_submodule("classifier").register_forward_hook(lambda *a: calls.__setitem__("head", calls["head"] + 1))
    tr.fit()
    assert calls == {"frozen": 5, "head": 15}
    assert "forward" not in net.get_submodule("bert.encoder.layer.0").__dict__  # own forwards given back


def test_gradual_unfreezing_rebuilds_the_cache_at_the_shorter_prefix(tiny_models):
    strategy = {"name": "gradual-unfreezing", "epochs_per_stage": 2}
    over = {"train.epochs": 6}
    plain, m_plain = train(tiny_models, "bert", strategy, "off", **over)
    cached, m_cached = train(tiny_models, "bert", strategy, "auto", **over)
    segments = cached.prefix_cache.describe()["segments"]
    assert [s["blocks"][-1] for s in segments] == ["encoder.layer.1", "encoder.layer.0", "embeddings"]
    assert all(s["replayed_batches"] == 5 for s in segments)
    assert_close(kit.params(m_plain), kit.params(m_cached))
    assert_same_outputs(m_plain, m_cached)


def test_cache_is_off_with_augmentation_or_bn_train(tiny_models):
    model = kit.load(tiny_models, "cnn")
    base = kit.split(model, n=N)
    augmented = EncodedSplit(base.targets, pixels=base.pixels, spec=base.spec, augment=["hflip"])
    tr, _ = kit.trainer(model, {"name": "linear-probe", "warm_head": False}, data=augmented, **{"train.epochs": EPOCHS})
    assert not tr.prefix_cache.active and "data.augment" in tr.prefix_cache.reason
    with pytest.raises(RecipeError, match="data.augment"):
        kit.trainer(model, {"name": "linear-probe", "warm_head": False}, data=augmented, **{"train.cache_frozen": "on"})
    tr, _ = kit.trainer(model, {"name": "linear-probe", "warm_head": False, "bn": "train"}, data=base, **{"train.epochs": EPOCHS})
    assert not tr.prefix_cache.active and "bn" in tr.prefix_cache.reason
    full, _ = kit.trainer(model, {"name": "full"}, data=base, **{"train.epochs": EPOCHS})
    assert not full.prefix_cache.active


def test_crashed_run_resumes_with_the_cache(tiny_models, tmp_path):
    strategy = {"name": "freeze", "top_blocks": 1}
    _, m_full = train(tiny_models, "bert", strategy, "on", run_dir=tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):  # resumes from step 6, mid-way through the second epoch
        train(tiny_models, "bert", strategy, "on", run_dir=tmp_path / "b",
              callbacks=[kit.Checkpointer(3), kit.Crash(8)])
    resumed, m_res = train(tiny_models, "bert", strategy, "on", run_dir=tmp_path / "b",
                           callbacks=[kit.Checkpointer(3)], resume=True)
    assert resumed.state.step == 5 * EPOCHS
    assert resumed.prefix_cache.describe()["used"]
    assert_close(kit.params(m_full), kit.params(m_res))
    assert_same_outputs(m_full, m_res)


def test_prefix_choice_follows_the_plan():
    def plan(*trainable_from):  # stage s trains blocks trainable_from[s].. up to the head (4)
        return Plan([Stage(f"s{i}", 10 * i, trainable=list(range(k, 5))) for i, k in enumerate(trainable_from)])
    # each stage lasts 10 steps; an epoch is 4 steps: every stage caches its own prefix
    assert choose_prefixes(plan(4, 3, 2), 4, 30, 4) == [4, 3, 2]
    # an epoch is 10 steps: no stage replays its own prefix; the prefix frozen to the end is kept
    assert choose_prefixes(plan(4, 3, 2), 4, 30, 10) == [2, 2, 2]
    assert choose_prefixes(plan(4, 0), 4, 20, 10) == [0, 0]
    assert choose_prefixes(plan(4, 0), 4, 20, 10, forced=True) == [4, 0]
    assert choose_prefixes(plan(0), 4, 20, 4) == [0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_store_spills_to_an_unlinked_file_and_repads(tmp_path, dtype):
    counts = np.array([2, 4, 3])
    store = RowStore(counts, (5,), dtype, "cpu", spill_bytes=0, spill_dir=tmp_path, padded=True)
    assert store.on_disk and not list(tmp_path.iterdir())
    values = torch.randn(3, 4, 5).to(dtype)
    store.write(np.array([0, 1, 2]), values)
    out = store.read(np.array([2, 0]), width=3, device="cpu")
    assert out.shape == (2, 3, 5) and out.dtype == dtype
    assert torch.equal(out[0], values[2, :3]) and torch.equal(out[1, :2], values[0, :2])
    assert not out[1, 2].any()
