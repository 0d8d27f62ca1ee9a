"""model.weights_match: a checkpoint whose tensors are named in another scheme loads by position
(every shape checked, the first mismatch named); missing BatchNorm counters are filled, not refused."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from tuneforge.errors import ModelError
from tuneforge.models import load_task_model
from tuneforge.models.loading import peek_model
from tuneforge.recipe.schema import ModelSection

ARCH = "timm:test_efficientnet"


def _ordered(timm_weights, counters: bool = True) -> dict:
    """The tiny CNN's tensors in the architecture's order (a .safetensors file keeps no order)."""
    import timm
    saved = load_file(str(timm_weights))
    names = timm.create_model("test_efficientnet", pretrained=False).state_dict().keys()
    return {k: saved[k] for k in names if counters or not k.endswith("num_batches_tracked")}


def _renamed(timm_weights, path, counters: bool):
    """The tiny CNN's checkpoint as a .pth with every tensor renamed (``p0000``, ``p0001``...), order kept."""
    torch.save({f"p{i:04d}": v for i, v in enumerate(_ordered(timm_weights, counters).values())}, path)
    return path


@pytest.mark.parametrize("counters", [True, False])
def test_renamed_checkpoint_loads_by_order_and_equals_the_named_one(timm_weights, tmp_path, counters):
    file = _renamed(timm_weights, tmp_path / "renamed.pth", counters)
    with pytest.raises(ModelError, match="tensors missing"):   # by names (the default) it cannot fit
        load_task_model(ModelSection(name=ARCH, weights=str(file)), "image", 3, None, False)
    model = load_task_model(ModelSection(name=ARCH, weights=str(file), weights_match="order"), "image", 3, None, False)
    reference = load_file(str(timm_weights))
    got = model.net.state_dict()
    body = [k for k in reference if not k.startswith("classifier.")]
    assert all(torch.equal(got[k], reference[k]) for k in body if not k.endswith("num_batches_tracked"))
    assert model.net.classifier.out_features == 3


def test_missing_batchnorm_counters_are_filled_when_matching_by_names(timm_weights, tmp_path):
    file = tmp_path / "no-counters.safetensors"
    state = load_file(str(timm_weights))
    state["bn1.num_batches_tracked"] = torch.tensor(7)   # one counter kept: it is loaded, the others filled
    save_file({k: v for k, v in state.items() if not k.endswith("num_batches_tracked") or k == "bn1.num_batches_tracked"},
              str(file))
    model = load_task_model(ModelSection(name=ARCH, weights=str(file)), "image", 2, None, False)
    counters = {k: int(v) for k, v in model.net.state_dict().items() if k.endswith("num_batches_tracked")}
    assert len(counters) > 5 and counters.pop("bn1.num_batches_tracked") == 7 and set(counters.values()) == {0}
    assert torch.equal(model.net.bn1.running_var, state["bn1.running_var"])


def test_by_order_names_the_first_tensor_whose_shape_differs(timm_weights, tmp_path):
    state = list(_ordered(timm_weights, counters=False).values())
    state[1], state[2] = state[2], state[1]          # conv_stem.weight, then bn1's weight and bias: same shapes
    state[0] = state[0][:, :2]                       # the stem sees 2 input channels instead of 3
    file = tmp_path / "other.pth"
    torch.save({f"p{j:04d}": v for j, v in enumerate(state)}, file)
    with pytest.raises(ModelError, match=r"by order: tensor 0 of the file, 'p0000' \(24, 2, 3, 3\), does not have the "
                                         r"shape of test_efficientnet's tensor 0, 'conv_stem.weight' \(24, 3, 3, 3\)"):
        load_task_model(ModelSection(name=ARCH, weights=str(file), weights_match="order"), "image", 2, None, False)


def test_by_order_refuses_a_file_with_fewer_tensors_or_without_an_order(timm_weights, tmp_path):
    state = list(_ordered(timm_weights, counters=False).values())
    file = tmp_path / "short.pth"
    torch.save({f"p{j:04d}": v for j, v in enumerate(state[:-2])}, file)
    with pytest.raises(ModelError, match=f"holds {len(state) - 2} tensors and 'test_efficientnet' {len(state)}"):
        load_task_model(ModelSection(name=ARCH, weights=str(file), weights_match="order"), "image", 2, None, False)
    with pytest.raises(ModelError, match="a .safetensors file does not keep it"):  # found by validate already
        peek_model(ModelSection(name=ARCH, weights=str(timm_weights), weights_match="order"))


def test_by_order_on_a_hugging_face_model_is_refused_before_loading(bert_dir):
    with pytest.raises(ModelError, match="model.weights_match: order .* remove model.weights_match"):
        peek_model(ModelSection(name=str(bert_dir), weights_match="order"))


def test_weights_match_is_a_checked_recipe_key():
    with pytest.raises(ValueError, match="weights_match"):
        ModelSection(name=ARCH, weights_match="position")
