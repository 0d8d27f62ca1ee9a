"""A saved timm folder's ``pretrained_cfg`` describes the preprocessing training used, so timm's
standard evaluation transform on that folder reproduces tuneforge's own predictions."""
from __future__ import annotations

import json

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from sklearn.datasets import load_digits
from timm.data import create_transform, resolve_data_config

from tuneforge.models import load_task_model, save_task_model
from tuneforge.recipe.schema import DataSection, ModelSection
from tuneforge.artefacts.result import predict_raw
from tuneforge.tasks import TASKS

LABELS = [str(d) for d in range(10)]


def _digit_images(folder, n=24) -> list[str]:
    """Grey 8x8 digits, like the packaged ``digits`` data set, as PNG files."""
    digits = load_digits()
    paths = []
    for i in range(n):
        p = folder / f"digit{i}.png"
        Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8), mode="L").save(p)
        paths.append(str(p))
    return paths


def _photos(folder, n=12) -> list[str]:
    """RGB images of assorted, non-square sizes."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        h, w = int(rng.integers(20, 90)), int(rng.integers(20, 90))
        smooth = np.cumsum(np.cumsum(rng.normal(size=(h, w, 3)), 0), 1)
        smooth = (smooth - smooth.min()) / (np.ptp(smooth) + 1e-9) * 255
        p = folder / f"photo{i}.png"
        Image.fromarray(smooth.astype(np.uint8), mode="RGB").save(p)
        paths.append(str(p))
    return paths


@pytest.fixture(scope="module")
def saved(timm_weights, tmp_path_factory):
    """A tiny timm CNN with a distinctive 10-class head, trained at 32 px, saved by tuneforge."""
    model = load_task_model(ModelSection(name="timm:test_efficientnet", weights=str(timm_weights)),
                            "image", 10, LABELS, False, image_size=32)
    torch.manual_seed(0)
    with torch.no_grad():
        model.head_linear().weight.normal_(0, 2.0)
    folder = tmp_path_factory.mktemp("saved-timm")
    save_task_model(model.eval(), folder, LABELS, {})
    return model, folder


def _timm_standard(folder, paths, **cfg_overrides) -> torch.Tensor:
    """Logits the way a timm user would get them: only timm, PIL and the saved folder."""
    net = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
    config = {**resolve_data_config(model=net), **cfg_overrides}
    transform = create_transform(**config)
    batch = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths])
    with torch.no_grad():
        return net(batch)


def _tuneforge(model, paths, image_size) -> np.ndarray:
    section = DataSection(train="unused.csv", image_size=image_size)
    preds = predict_raw(model, TASKS.get("image-classification"), LABELS, section, paths)
    return np.array([[p["probabilities"][c] for c in LABELS] for p in preds])


def test_saved_config_says_squash_bilinear_no_crop(saved):
    _, folder = saved
    cfg = json.loads((folder / "config.json").read_text())["pretrained_cfg"]
    assert (cfg["input_size"], cfg["interpolation"], cfg["crop_pct"], cfg["crop_mode"]) == \
        ([3, 32, 32], "bilinear", 1.0, "squash")
    assert "test_input_size" not in cfg


@pytest.mark.parametrize("images, image_size", [(_digit_images, None), (_photos, 32)],
                         ids=["grey-8px-digits-upsampled", "rgb-photos-of-mixed-sizes"])
def test_timm_standard_transform_reproduces_tuneforge(saved, images, image_size, tmp_path):
    model, folder = saved
    paths = images(tmp_path)
    ours = _tuneforge(model, paths, image_size)
    theirs = torch.softmax(_timm_standard(folder, paths), -1).numpy()
    assert (ours.argmax(1) == theirs.argmax(1)).all()
    assert np.abs(ours - theirs).max() < 0.002  # PIL rounds its upsampled pixels to uint8; torch does not

    # the architecture's usual evaluation preprocessing (centre crop, bicubic) is visibly different:
    # this is what a saved folder used to tell timm, and what the assertions above would catch
    cropped = torch.softmax(_timm_standard(folder, paths, crop_pct=0.875, interpolation="bicubic",
                                           crop_mode="center"), -1).numpy()
    assert np.abs(ours - cropped).max() > 5 * np.abs(ours - theirs).max()
