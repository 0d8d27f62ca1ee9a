"""Gradient attributions (Captum) and top losses: checked against their definitions."""
import numpy as np
import pytest
import torch

from runs.conftest import cnn_weights  # noqa: F401
from tuneforge.evaluation.attribution import grad_cam, integrated_gradients, last_feature_map
from tuneforge.evaluation.top_losses import most_confused, top_losses
from tuneforge.recipe.schema import ModelSection
from tuneforge.tasks import TASKS


@pytest.fixture(scope="module")
def text_model(bert_dir):
    torch.manual_seed(0)
    model = TASKS.get("text-classification").build_model(ModelSection(name=str(bert_dir)), ["neg", "pos"])
    return model.eval()


def test_integrated_gradients_add_up_to_the_logit_change(text_model):
    tok = text_model.preprocessor
    enc = tok(["the film was great fun"], return_tensors="pt")
    batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    special = frozenset(tok.all_special_ids)
    tokens = tok.convert_ids_to_tokens(enc["input_ids"][0].tolist())
    found = integrated_gradients(text_model, batch, 1, tokens, special, steps=64)
    assert found["method"] == "integrated-gradients"
    assert [t["token"] for t in found["tokens"]] == [t for t in tokens if t not in tok.all_special_tokens]
    # completeness: scores of the replaced tokens sum to f(input) - f(baseline) for the target logit
    ids = enc["input_ids"]
    keep = torch.tensor([[int(t) in special for t in ids[0].tolist()]])
    baseline = torch.where(keep, ids, torch.full_like(ids, tok.pad_token_id))
    with torch.no_grad():
        change = float(text_model(batch)[0, 1] - text_model({"input_ids": baseline,
                                                              "attention_mask": batch["attention_mask"]})[0, 1])
    total = sum(t["score"] for t in found["tokens"])
    assert abs(total - change) <= 0.05 * abs(change) + 1e-3 + 4 * 1e-4 * len(found["tokens"])
    assert found["delta"] < 0.05 * abs(change) + 1e-3


def test_grad_cam_is_the_relu_of_gradient_weighted_feature_maps(cnn_weights):  # noqa: F811
    torch.manual_seed(0)
    model = TASKS.get("image-classification").build_model(
        ModelSection(name="timm:test_efficientnet", weights=str(cnn_weights)), ["a", "b", "c"], image_size=64).eval()
    batch = {"pixel_values": torch.randn(1, 3, 64, 64)}
    name = last_feature_map(model, batch)
    assert name is not None
    found = grad_cam(model, batch, target=2)
    assert found["layer"] == name
    # the same map by hand: A = the layer's output, alpha_k = mean over H, W of d logit / d A_k
    store = {}
    layer = model.net.get_submodule(name)
    hook = layer.register_forward_hook(lambda _m, _i, out: store.setdefault("A", out))
    logit = model(batch)[0, 2]
    hook.remove()
    (grads,) = torch.autograd.grad(logit, store["A"])
    cam = torch.relu((grads.mean(dim=(2, 3), keepdim=True) * store["A"]).sum(dim=1))[0].detach().numpy()
    expected = cam / cam.max() if cam.max() > 0 else cam
    assert np.allclose(np.asarray(found["heatmap"]), expected, atol=2e-3)


def test_a_transformer_without_a_spatial_map_gets_no_grad_cam(text_model):
    enc = text_model.preprocessor(["a day"], return_tensors="pt")
    assert last_feature_map(text_model, dict(enc)) is None


def test_top_losses_are_the_highest_cross_entropy_examples_first():
    logits = np.log(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.05, 0.95]]))
    rows = top_losses([0, 0, 1, 1], logits, ["neg", "pos"], n=3)
    assert [r["index"] for r in rows] == [1, 2, 0]
    assert rows[0] == {"index": 1, "label": "neg", "predicted": "pos", "p_label": 0.2, "p_predicted": 0.8,
                       "loss": round(-np.log(0.2), 4)}
    assert rows[1]["predicted"] == "neg" and rows[2]["predicted"] == "neg" and rows[2]["loss"] == round(-np.log(0.9), 4)
    # a tuned binary threshold changes what was predicted, not the loss order
    assert top_losses([0, 0, 1, 1], logits, ["neg", "pos"], n=3, threshold=0.3)[1]["predicted"] == "pos"


def test_most_confused_counts_off_diagonal_cells_largest_first():
    y = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    pred = [1, 1, 0, 1, 2, 0, 0, 0, 2]
    logits = np.eye(3)[pred] * 5
    found = most_confused(y, logits, ["a", "b", "c"])
    assert found[0] == {"label": "c", "predicted": "a", "count": 3, "share": 0.75}
    assert found[1] == {"label": "a", "predicted": "b", "count": 2, "share": round(2 / 3, 4)}
    assert found[2]["label"] == "b" and found[2]["predicted"] == "c" and len(found) == 3


def test_an_image_run_explains_with_grad_cam_and_shows_its_top_losses(cnn_weights, tmp_path):  # noqa: F811
    import json

    import tuneforge
    from data.conftest import image_folder

    folder = image_folder(tmp_path / "images", per_class=10, classes=("cat", "dog"), size=(40, 40))
    result = tuneforge.finetune({
        "task": "image-classification", "model": {"name": "timm:test_efficientnet", "weights": str(cnn_weights)},
        "data": {"train": str(folder), "validation": 0.25, "test": 0.25, "image_size": 48},
        "strategy": {"name": "freeze"}, "train": {"max_steps": 2, "batch_size": 8},
        "evaluate": {"bootstrap": 0, "baseline": False, "explain": 1, "top_losses": 3},
        "output": {"dir": str(tmp_path / "runs")}}, quiet=True)
    d = result.run_dir
    entry = json.loads((d / "explanations.json").read_text())[0]
    assert entry["attribution"]["method"] == "grad-cam" and np.asarray(entry["attribution"]["heatmap"]).ndim == 2
    worst = json.loads((d / "top_losses.json").read_text())
    assert len(worst["examples"]) == 3 and np.asarray(worst["examples"][0]["image"]).shape == (48, 48, 3)
    html = (d / "report.html").read_text()
    assert "Grad-CAM" in html and "Where does it go wrong?" in html
