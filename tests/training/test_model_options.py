"""train.gradient_checkpointing and train.compile: checkpointing is really on (a transformers and a timm
model), gives the same loss and gradients as without while keeping fewer activations, and leaves a
frozen-prefix-cached run unchanged; compile (eager backend: tracing without code generation) gives the
same outputs, and checkpoints keep the plain parameter names; models without either are refused."""
import sys
from pathlib import Path

import pytest
import torch

from tuneforge.errors import RecipeError
from tuneforge.recipe import load_recipe
from tuneforge.recipe.validate import recipe_problems
from tuneforge.training.checkpoint import latest_checkpoint
from tuneforge.training.model_options import apply_model_options, enable_gradient_checkpointing, is_checkpointing

from toy import toy_model

sys.path.insert(0, str(Path(__file__).parent.parent / "strategies"))
import kit  # noqa: E402


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    return kit.build_tiny(tmp_path_factory.mktemp("tiny"))


def options(**train):
    return load_recipe({"task": "text-classification", "model": {"name": "x"}, "data": {"train": "x"},
                        "train": train}).train


def loss_grads_and_saved_bytes(model, batch):
    """Training-mode loss, every gradient, and the bytes autograd kept for the backward pass."""
    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    model.train()
    model.net.zero_grad(set_to_none=True)
    torch.manual_seed(1)  # the same dropout masks in both runs (checkpointing replays the RNG state)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = torch.nn.functional.cross_entropy(model(batch), batch["targets"])
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.net.named_parameters() if p.grad is not None}
    return loss.item(), grads, sum(saved)


@pytest.mark.parametrize("family", ["bert", "cnn"])
def test_checkpointing_is_on_and_exact_with_fewer_saved_activations(tiny_models, family):
    plain = kit.load(tiny_models, family)
    batch = kit.split(plain, n=8).batch(range(8))
    ref_loss, ref_grads, ref_bytes = loss_grads_and_saved_bytes(plain, batch)
    model = kit.load(tiny_models, family)
    apply_model_options(model, options(gradient_checkpointing=True))
    assert is_checkpointing(model.net) and not is_checkpointing(plain.net)
    loss, grads, saved = loss_grads_and_saved_bytes(model, batch)
    assert loss == pytest.approx(ref_loss, abs=1e-6) and grads.keys() == ref_grads.keys()
    assert all(torch.allclose(grads[n], ref_grads[n], atol=1e-6) for n in grads)
    assert saved < 0.8 * ref_bytes, (saved, ref_bytes)


def test_checkpointing_with_the_frozen_prefix_cache_trains_the_same(tiny_models):
    runs = {}
    for gc in (False, True):
        model = kit.load(tiny_models, "bert")
        apply_model_options(model, options(gradient_checkpointing=gc))
        tr, _ = kit.trainer(model, {"name": "freeze", "top_blocks": 1, "warm_head": False},
                            **{"train.epochs": 2, "train.precision": "fp32"})
        tr.fit()
        runs[gc] = (tr.prefix_cache.active, kit.params(model))
    assert runs[True][0] and runs[False][0]
    assert all(torch.allclose(runs[True][1][n], runs[False][1][n], atol=1e-5) for n in runs[True][1])


def test_a_model_without_checkpointing_is_refused():
    with pytest.raises(RecipeError, match="train.gradient_checkpointing: ToyNet has no gradient checkpointing"):
        enable_gradient_checkpointing(toy_model().net)


def test_compiled_model_gives_the_same_outputs_and_plain_checkpoint_keys(tiny_models, tmp_path):
    model = kit.load(tiny_models, "bert")
    names = [n for n, _ in model.net.named_parameters()]
    apply_model_options(model, options(compile=True, compile_backend="eager"))
    assert model.net._compiled_call_impl is not None  # nn.Module.compile: in place, same module
    tr, _ = kit.trainer(model, {"name": "full", "warm_head": False}, run_dir=tmp_path,
                        callbacks=[kit.Checkpointer(1)], **{"train.max_steps": 2, "train.precision": "fp32",
                                                            "train.compile": True, "train.compile_backend": "eager"})
    tr.fit()
    assert not tr.prefix_cache.active and tr.prefix_cache.reason.startswith("train.compile")
    from safetensors import safe_open
    with safe_open(str(latest_checkpoint(tmp_path / "checkpoints") / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert keys and not any("_orig_mod" in k for k in keys) and set(names) <= keys
    batch = kit.split(model, n=6, seed=1).batch(range(6))
    model.eval()
    with torch.no_grad():
        compiled = model(batch)
        model.net._compiled_call_impl = None  # the same weights, not compiled
        eager = model(batch)
    assert torch.allclose(compiled, eager, atol=1e-6)


def test_cache_on_with_compile_is_refused_before_the_run():
    r = load_recipe({"task": "text-classification", "model": {"name": "x"}, "data": {"train": "x"},
                     "train": {"compile": True, "cache_frozen": "on"}})
    assert any(p.startswith("train.cache_frozen: 'on' swaps module outputs") for p in recipe_problems(r))
