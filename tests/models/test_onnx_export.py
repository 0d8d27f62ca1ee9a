"""ONNX export of token-classification models: onnxruntime gives PyTorch's per-token outputs on a batch
of another size and length than the one traced; causal LMs and outputs beyond the tolerance are refused.
(Text classification and image models are exported from real runs in tests/runs/test_export_run.py.)

Each export traces the model with torch.export (a few seconds on tiny models)."""
from __future__ import annotations

import onnxruntime
import pytest
import torch

from tuneforge.errors import ModelError
from tuneforge.models import load_task_model
from tuneforge.models.onnx_export import export_onnx
from tuneforge.recipe.schema import ModelSection


def _timm(timm_weights):
    model = load_task_model(ModelSection(name="timm:test_efficientnet", weights=str(timm_weights)), "image", 3,
                            ["a", "b", "c"], False).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        model.head_linear().weight.normal_(0, 0.5)      # distinctive outputs, as after training
    return model


def test_token_classification_exports_per_token_logits(bert_dir, tmp_path):
    model = load_task_model(ModelSection(name=str(bert_dir)), "text", 5, list("OABCD"), False,
                            auto_class="AutoModelForTokenClassification").eval()
    tok = model.preprocessor
    sample = dict(tok([["the", "film"], ["a", "good", "day"]], is_split_into_words=True, padding=True, return_tensors="pt"))
    check = dict(tok([["what", "a", "terrible", "boring", "film", "it", "was"]], is_split_into_words=True,
                     return_tensors="pt"))
    result = export_onnx(model, sample, check, tmp_path / "ner.onnx")
    assert list(result.inputs) == [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in sample]
    session = onnxruntime.InferenceSession(str(tmp_path / "ner.onnx"))
    got = session.run(["logits"], {k: check[k].numpy() for k in result.inputs})[0]
    assert got.shape == (1, check["input_ids"].shape[1], 5) and result.max_abs_diff < 1e-4


def test_outputs_beyond_the_tolerance_are_refused_and_not_kept(timm_weights, tmp_path):
    model = _timm(timm_weights)
    batch = dict(pixel_values=torch.randn(2, 3, model.preprocessor.size, model.preprocessor.size))
    with pytest.raises(ModelError, match="differ from PyTorch's by up to .* the file was not kept"):
        export_onnx(model, batch, batch, tmp_path / "model.onnx", tolerance=-1.0)  # no difference is below it
    assert not (tmp_path / "model.onnx").exists()


def test_causal_language_models_are_refused(bert_dir, tmp_path):
    model = load_task_model(ModelSection(name=str(bert_dir)), "text", 2, None, False)
    model.auto_class = "AutoModelForCausalLM"
    with pytest.raises(ModelError, match="causal language models are not exported.*Optimum"):
        export_onnx(model, {"input_ids": torch.ones(1, 3, dtype=torch.long)}, {}, tmp_path / "lm.onnx")


def test_regression_exports_in_original_units(bert_dir, tmp_path):
    model = load_task_model(ModelSection(name=str(bert_dir), pooling="mean"), "text", 1, None, True).eval()
    model.fold_target_scale(250.0, 40.0)                       # as the pipeline does after training
    tok = model.preprocessor
    sample = dict(tok(["the film", "a good day"], padding=True, return_tensors="pt"))
    check = dict(tok(["what a terrible boring film it was", "bad", "the sea"], padding=True, return_tensors="pt"))
    result = export_onnx(model, sample, check, tmp_path / "reg.onnx")
    got = onnxruntime.InferenceSession(str(tmp_path / "reg.onnx")).run(
        ["logits"], {k: check[k].numpy() for k in result.inputs})[0]
    with torch.no_grad():
        expected = model(check).numpy()
    assert got.shape == (3, 1) and abs(expected).min() > 100          # original units, not standardised
    assert abs(got - expected).max() <= 1e-4 * abs(expected).max()
