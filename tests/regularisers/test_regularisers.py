"""Regularisers against forgetting on tiny models: each penalty is zero on the pre-trained weights
and positive once the backbone moves (the new head alone costs nothing), L2-SP keeps weights
nearer their start, the EWC Fisher is non-negative and deterministic, and distillation compares the
student's features captured from the training forward with a frozen teacher's."""
import json
from types import SimpleNamespace

import pytest
import torch

import kit
from tuneforge.recipe.schema import RegulariserSection
from tuneforge.regularisers import build_regularisers
from tuneforge.tasks import TASKS


def make(name, **options):
    return build_regularisers([RegulariserSection(name=name, **options)])[0]


def context(model, family_section=None):
    task = TASKS.get("text-classification" if model.modality == "text" else "image-classification")
    recipe = SimpleNamespace(model=family_section, data=SimpleNamespace(image_size=32))
    return SimpleNamespace(task=task, encoded={"train": kit.split(model)}, recipe=recipe, data=None)


def nudge(model, prefix):
    with torch.no_grad():
        for n, p in model.net.named_parameters():
            if n.startswith(prefix):
                p.add_(0.05)


@pytest.mark.parametrize("name,options", [("l2-sp", {}), ("ewc", {"samples": 8}),
                                          ("distillation", {"target": "features"})])
@pytest.mark.parametrize("family", ["bert", "cnn"])
def test_penalty_is_zero_at_start_and_grows_when_the_backbone_moves(tiny_models, name, options, family):
    model = kit.load(tiny_models, family).eval()
    reg = make(name, weight=1.0, **options)
    reg.setup(model, context(model, tiny_models[family][0]))
    batch = kit.split(model, n=4).batch(range(4))
    assert reg.penalty(model, batch, model(batch)).item() == 0.0
    nudge(model, model.head_linear_name)  # the new head has no pre-trained value to keep
    if name != "distillation":
        assert reg.penalty(model, batch, model(batch)).item() == 0.0
    nudge(model, "bert.encoder.layer.1" if family == "bert" else "blocks.4")
    penalty = reg.penalty(model, batch, model(batch))
    assert penalty.item() > 0
    penalty.backward()
    moved = next(p for n, p in model.net.named_parameters() if "layer.1" in n or "blocks.4" in n)
    assert moved.grad is not None and moved.grad.abs().sum() > 0


def test_l2_sp_keeps_weights_closer_to_the_pretrained_ones(tiny_models):
    distances = []
    for regs in ([], [make("l2-sp", weight=5.0)]):
        model = kit.load(tiny_models, "vit")
        start = kit.params(model)
        for r in regs:
            r.setup(model, None)
        tr, _ = kit.trainer(model, {"name": "full"}, regularisers=regs, **{"train.max_steps": 6, "train.epochs": 2})
        tr.fit()
        end = kit.params(model)
        distances.append(sum((end[n] - start[n]).pow(2).sum().item() for n in start if "classifier" not in n))
    assert distances[1] < 0.8 * distances[0]


def test_ewc_fisher_is_non_negative_deterministic_and_skips_the_head(tiny_models):
    model = kit.load(tiny_models, "cnn")
    fishers = []
    for _ in range(2):
        reg = make("ewc", weight=1.0, samples=6, batch_size=2)
        reg.setup(model, context(model))
        fishers.append(reg.fisher)
    a, b = fishers
    assert a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)
    assert all((f >= 0).all() for f in a.values()) and sum(f.sum() for f in a.values()) > 0
    assert not any(n.startswith("classifier") for n in a)
    assert all(p.grad is None for p in model.net.parameters())  # setup leaves no gradients behind


def test_distillation_uses_the_original_classifier_of_a_vision_model(tiny_models):
    section = tiny_models["cnn"][0]
    model = kit.load(tiny_models, "cnn")
    reg = make("distillation", weight=1.0, temperature=2.0)
    reg.setup(model, context(model, section))
    assert reg.mode == "logits" and reg.original_head.out_features == 1000
    batch = kit.split(model, n=4).batch(range(4))
    model.eval()
    assert reg.penalty(model, batch, model(batch)).item() == pytest.approx(0.0, abs=1e-6)
    tr, _ = kit.trainer(model, {"name": "full"}, regularisers=[reg], **{"train.max_steps": 2})
    tr.fit()
    model.eval()
    assert reg.penalty(model, batch, model(batch)).item() > 0


def test_distillation_without_a_student_forward_is_an_error(tiny_models):
    model = kit.load(tiny_models, "bert")
    reg = make("distillation", weight=1.0)
    reg.setup(model, context(model))
    assert reg.mode == "features"
    with pytest.raises(RuntimeError, match="not captured"):
        reg.penalty(model, kit.split(model, n=2).batch(range(2)), torch.zeros(2, 3))


def test_ewc_fisher_is_read_through_a_solved_head_and_normalised_to_mean_one(tiny_models):
    from tuneforge.regularisers.ewc import diagonal_fisher

    model = kit.load(tiny_models, "bert")
    head = model.net.get_submodule(model.head_linear_name).weight.detach().clone()
    reg = make("ewc", weight=1.0, samples=16)
    reg.setup(model, context(model))
    assert reg.note == "a head solved on the pre-trained features of the reference rows"
    assert torch.equal(model.net.get_submodule(model.head_linear_name).weight, head)  # the run's head is untouched
    total = sum(f.sum() for f in reg.fisher.values()) / sum(f.numel() for f in reg.fisher.values())
    assert total.item() == pytest.approx(1.0, rel=1e-4)
    raw = make("ewc", weight=1.0, samples=16, normalise="none")
    raw.setup(model, context(model))
    assert raw.fisher_mean == pytest.approx(reg.fisher_mean)
    n = next(iter(raw.fisher))
    torch.testing.assert_close(raw.fisher[n] / raw.fisher_mean, reg.fisher[n])
    # through the random head the Fisher is another (and, on this model, a much smaller) quantity
    random_head = diagonal_fisher(model, kit.split(model), context(model).task, list(raw.fisher), raw.options)
    random_mean = sum(f.sum() for f in random_head.values()) / sum(f.numel() for f in random_head.values())
    assert random_mean.item() < 0.5 * raw.fisher_mean


def test_ewc_with_a_large_weight_keeps_the_body_closer_than_no_regulariser(tiny_models):
    """The issue's setting: 4 steps at lr 1e-3 of full fine-tuning; EWC must hold the body nearer its start."""
    distances = []
    for regs in ([], [make("ewc", weight=100.0, samples=16)]):
        model = kit.load(tiny_models, "bert")
        start = kit.params(model)
        for r in regs:
            r.setup(model, context(model))
        tr, _ = kit.trainer(model, {"name": "full", "warm_head": False}, regularisers=regs,
                            **{"train.max_steps": 4, "optimizer.lr": 1e-3})
        tr.fit()
        end = kit.params(model)
        distances.append(sum((end[n] - start[n]).pow(2).sum().item() for n in start
                             if not n.startswith(model.head_linear_name)))
    assert distances[1] < 0.5 * distances[0]


def test_each_penalty_is_logged_per_step_with_its_value(tiny_models, tmp_path):
    """loss_trace.jsonl holds every regulariser's penalty of every step, equal to L2-SP recomputed from the weights
    the step started from; history.jsonl carries the last step's values."""
    from tuneforge.training.history import HistoryWriter
    from tuneforge.training.loss_trace import LossTrace

    class Weights(kit.Callback):
        def __init__(self):
            self.after = []

        def on_step_end(self, trainer):
            self.after.append(kit.params(trainer.unwrapped))

    model = kit.load(tiny_models, "bert")
    start = kit.params(model)
    l2, ewc = make("l2-sp", weight=2.0), make("ewc", weight=1.0, samples=8)
    for r in (l2, ewc):
        r.setup(model, context(model))
    spy, trace = Weights(), LossTrace(tmp_path / "loss_trace.jsonl")
    history = HistoryWriter(tmp_path / "history.jsonl")
    tr, _ = kit.trainer(model, {"name": "full", "warm_head": False}, regularisers=[l2, ewc],
                        callbacks=[spy, trace, history], **{"train.max_steps": 3, "optimizer.lr": 1e-3})
    tr.evaluate_fn = lambda: {"loss": 0.0}
    tr.fit()
    records = [json.loads(line) for line in (tmp_path / "loss_trace.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3] and all(set(r["penalties"]) == {"l2-sp", "ewc"} for r in records)
    assert records[0]["penalties"] == {"l2-sp": 0.0, "ewc": 0.0}      # step 1 starts at the pre-trained weights
    head = model.head_linear_name
    for k in (1, 2):
        expected = 2.0 * sum((spy.after[k - 1][n] - start[n]).pow(2).sum().item() for n in start
                             if not n.startswith(head))
        assert records[k]["penalties"]["l2-sp"] == pytest.approx(expected, rel=1e-4)
        assert records[k]["penalties"]["ewc"] > 0
    last = json.loads((tmp_path / "history.jsonl").read_text().splitlines()[-1])
    assert last["penalties"] == records[-1]["penalties"]
