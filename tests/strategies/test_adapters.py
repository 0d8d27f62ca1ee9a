"""LoRA, IA3, DoRA, LoHa and LoKr on the three tiny families: only adapter parameters and the head copy peft saves
change; the adapter saved alone reloads with peft to the same predictions; merging gives a plain
network with the same predictions; a LoRA run resumes bit-identical; bad options are refused."""
import pytest
import torch

import kit
from tuneforge.errors import RecipeError
from tuneforge.recipe import load_recipe
from tuneforge.strategies import Strategy


def _prepared(tiny_models, family, options):
    model = kit.load(tiny_models, family)
    strategy = Strategy.from_section(kit.recipe(model, options).strategy)
    return strategy.prepare(model), strategy


# LoRA and IA3 on every family; the newer methods on a transformer and on 1x1 convolutions (a CNN)
@pytest.mark.parametrize("method,family", [(m, f) for m in ("lora", "ia3") for f in kit.FAMILIES]
                         + [(m, f) for m in ("dora", "loha", "lokr") for f in ("bert", "cnn")])
def test_adapter_trains_only_adapters_and_merges_to_same_predictions(tiny_models, tmp_path, family, method):
    from peft import PeftModel

    model, strategy = _prepared(tiny_models, family, {"name": method})
    before = kit.params(model)
    tr, _ = kit.trainer(model, {"name": method}, **{"train.max_steps": 3})
    tr.strategy = strategy
    tr.fit()
    changed = kit.changed(before, kit.params(model))
    marks = ("lora_", "ia3_", "hada_", "lokr_")
    assert changed and all(any(m in n for m in marks + (".modules_to_save.",)) for n in changed)
    assert any(".modules_to_save." in n for n in changed) and any(any(m in n for m in marks) for n in changed)
    if method == "dora":  # the magnitude vector trains too
        assert any("lora_magnitude_vector" in n for n in changed)

    batch = kit.split(model, n=6, seed=1).batch(range(6))
    model.eval()
    with torch.no_grad():
        trained = model(batch)
    assert strategy.save_extra(model, tmp_path) == ["adapter"]
    merged = strategy.finalize(model).eval()
    assert not any(any(m in n for m in marks + ("base_layer",)) for n, _ in merged.net.named_parameters())
    assert merged.layer_map.names() == kit.load(tiny_models, family).layer_map.names()
    fresh = kit.load(tiny_models, family)
    reloaded = PeftModel.from_pretrained(fresh.net, str(tmp_path / "adapter")).eval()
    with torch.no_grad():
        assert torch.allclose(merged(batch), trained, atol=1e-5)
        assert torch.allclose(fresh(batch), trained, atol=1e-5)
        assert reloaded is not None


def test_every_parameter_of_the_wrapped_model_is_in_the_block_of_its_host(tiny_models):
    model, _ = _prepared(tiny_models, "bert", {"name": "lora", "r": 2})
    block_of = model.layer_map.block_of()
    assert set(block_of) == {n for n, _ in model.net.named_parameters()}
    names = model.layer_map.names()
    lora = [n for n in block_of if "lora_A" in n]
    assert lora and all(names[block_of[n]] == "encoder.layer." + n.split("layer.")[1][0] for n in lora)
    assert names[block_of["classifier.modules_to_save.default.weight"]] == "head"


def test_lora_run_resumes_bit_identical(tiny_models, tmp_path):
    over = {"train.max_steps": 6, "train.epochs": 2}
    opts = {"name": "lora", "r": 2}

    def run(run_dir, callbacks, resume=False):
        model, strategy = _prepared(tiny_models, "bert", opts)
        tr, _ = kit.trainer(model, opts, run_dir=run_dir, callbacks=callbacks, **over)
        tr.strategy = strategy
        tr.fit(resume=resume)
        return model

    full = run(tmp_path / "a", [kit.Checkpointer(1)])
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", [kit.Checkpointer(1), kit.Crash(3)])
    resumed = run(tmp_path / "b", [kit.Checkpointer(1)], resume=True)
    assert not kit.changed(kit.params(full), kit.params(resumed))


@pytest.mark.parametrize("options,key", [
    ({"name": "lora", "r": 0}, "strategy.r"),
    ({"name": "lora", "rank": 4}, "strategy.rank"),
    ({"name": "lokr", "decompose_factor": 0}, "strategy.decompose_factor"),
    ({"name": "loha", "rank_dropout": 1.0}, "strategy.rank_dropout"),
    ({"name": "dora", "r": 0}, "strategy.r"),
    ({"name": "discriminative", "lr_range": [1.0, 0.1]}, "lr_range"),
    ({"name": "lp-ft", "probe_epochs": 1, "probe_fraction": 0.5}, "probe_epochs"),
])
def test_bad_options_name_the_key(options, key):
    r = load_recipe({"task": "text-classification", "model": {"name": "x"}, "data": {"train": "x"},
                     "strategy": options})
    with pytest.raises(RecipeError, match=key.replace(".", r"\.")):
        Strategy.from_section(r.strategy)


@pytest.mark.parametrize("name", ["gradual-unfreezing", "layer-wise"])
def test_more_blocks_than_the_model_has_is_refused(name):
    r = load_recipe({"task": "text-classification", "model": {"name": "x"}, "data": {"train": "x"},
                     "strategy": {"name": name, "blocks": 5}})
    problems = Strategy.from_section(r.strategy).check(["embeddings", "encoder.layer.0", "head"])
    assert len(problems) == 1 and problems[0].startswith("strategy.blocks: 5 blocks asked")
