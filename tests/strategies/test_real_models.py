"""A few steps with the real shipped models (slow; select with ``-m real``): LoRA on MiniLM-L6 with
distillation of its sentence embeddings, and gradual unfreezing of EfficientNet-Lite0 with
distillation through its original ImageNet classifier."""
from types import SimpleNamespace

import pytest
import torch

import kit
from tuneforge.models import load_task_model
from tuneforge.recipe.schema import ModelSection, RegulariserSection
from tuneforge.regularisers import build_regularisers
from tuneforge.strategies import Strategy

pytestmark = pytest.mark.real


def _distillation(model, section, **options):
    reg = build_regularisers([RegulariserSection(name="distillation", weight=1.0, **options)])[0]
    reg.setup(model, SimpleNamespace(recipe=SimpleNamespace(model=section, data=SimpleNamespace(image_size=64))))
    return reg


def test_lora_on_minilm_trains_adapters_and_merges(tmp_path):
    section = ModelSection(name="minilm-l6")
    model = load_task_model(section, "text", 3, ["a", "b", "c"], False)
    options = {"name": "lora", "r": 4}
    strategy = Strategy.from_section(kit.recipe(model, options).strategy)
    model = strategy.prepare(model)
    reg = _distillation(model, section)
    before = kit.params(model)
    data = kit.split(model, n=16)
    tr, _ = kit.trainer(model, options, data=data, regularisers=[reg], **{"train.max_steps": 2})
    tr.strategy = strategy
    tr.fit()
    changed = kit.changed(before, kit.params(model))
    assert changed and all("lora_" in n or "modules_to_save" in n for n in changed)
    batch = data.batch(range(4))
    model.eval()
    with torch.no_grad():
        trained = model(batch)
        merged = strategy.finalize(model).eval()
        assert torch.allclose(merged(batch), trained, atol=1e-4)


def test_gradual_unfreezing_of_efficientnet_lite0_with_distillation():
    section = ModelSection(name="efficientnet-lite0")
    model = load_task_model(section, "image", 3, ["a", "b", "c"], False, image_size=64)
    reg = _distillation(model, section, temperature=2.0)
    assert reg.mode == "logits"
    head = model.layer_map.head_index
    before, bn_before = kit.params(model), kit.buffers(model)
    tr, _ = kit.trainer(model, {"name": "gradual-unfreezing", "steps_per_stage": 1}, data=kit.split(model, n=16),
                        regularisers=[reg], **{"train.max_steps": 2, "train.batch_size": 8})
    tr.fit()
    assert kit.changed(before, kit.params(model)) == kit.block_params(model, [head - 1, head])
    stem_bn = [n for n in bn_before if n.startswith("bn1.")]
    assert stem_bn and not kit.changed({n: bn_before[n] for n in stem_bn}, kit.buffers(model))
