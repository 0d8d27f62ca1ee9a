"""In a continual step the regularisers look at the right things: L2-SP at the original pre-trained
weights, EWC at the previous step's model and the earlier tasks' data (none at step 1), LwF's
teacher = the model as the step starts."""
from types import SimpleNamespace

import pytest
import torch

from tuneforge.continual import StepContext
from tuneforge.data import encode_split
from tuneforge.data.bundle import Split
from tuneforge.recipe.schema import DataSection, ModelSection
from tuneforge.regularisers import build_regularisers
from tuneforge.regularisers.anchors import anchored_names
from tuneforge.regularisers.ewc import EWCOptions, diagonal_fisher
from tuneforge.tasks import TASKS

from continual.conftest import topic_table


@pytest.fixture
def setting(bert_dir):
    task = TASKS.get("text-classification")
    model = task.build_model(ModelSection(name=str(bert_dir)), ["sports", "food", "music", "weather"])
    pretrained = {k: v.detach().clone() for k, v in model.net.named_parameters()}
    with torch.no_grad():                      # "the previous step": weights moved away from pre-training
        for p in model.net.parameters():
            p.add_(0.05)
    df = topic_table(40)
    earlier = Split(list(df.text), df.label.map({"sports": 0, "food": 1, "music": 2, "weather": 3}).to_numpy())
    data = DataSection(train="unused", max_length=16)
    return task, model, pretrained, earlier, data


def _context(task, data, step):
    return SimpleNamespace(task=task, recipe=SimpleNamespace(data=data), continual=step, encoded={}, data=None)


def _regulariser(section):
    return build_regularisers([SimpleNamespace(model_dump=lambda: dict(section))])[0]


def test_l2sp_anchors_the_original_weights_not_the_previous_steps(setting):
    task, model, pretrained, earlier, data = setting
    reg = _regulariser({"name": "l2-sp", "weight": 1.0})
    reg.setup(model, _context(task, data, StepContext(1, pretrained, earlier)))
    names = anchored_names(model)
    assert set(reg.anchors) == set(names)
    assert all(torch.equal(reg.anchors[n], pretrained[n]) for n in names)
    expected = sum(((dict(model.net.named_parameters())[n] - pretrained[n]) ** 2).sum() for n in names)
    assert reg.penalty(model, {}, torch.zeros(1)).item() == pytest.approx(expected.item(), rel=1e-5)


def test_ewc_protects_the_earlier_tasks_at_the_previous_steps_weights(setting):
    task, model, pretrained, earlier, data = setting
    reg = _regulariser({"name": "ewc", "weight": 2.0, "samples": 8})
    reg.setup(model, _context(task, data, StepContext(1, pretrained, earlier)))
    names = anchored_names(model)
    params = dict(model.net.named_parameters())
    assert all(torch.equal(reg.anchors[n], params[n]) for n in names)           # previous step's weights
    reference = diagonal_fisher(model, encode_split(earlier, model, data), task, names,
                                EWCOptions(weight=2.0, samples=8))
    mean = sum(f.sum() for f in reference.values()) / sum(f.numel() for f in reference.values())
    assert reg.fisher_mean == pytest.approx(float(mean), rel=1e-5)
    assert all(torch.allclose(reg.fisher[n], reference[n] / mean) for n in names)  # on the earlier tasks' rows
    assert sum(f.sum() for f in reg.fisher.values()) > 0


def test_ewc_has_nothing_to_protect_at_the_first_step(setting):
    task, model, pretrained, _, data = setting
    reg = _regulariser({"name": "ewc", "weight": 2.0})
    reg.setup(model, _context(task, data, StepContext(0, pretrained, None)))
    with torch.no_grad():
        next(model.net.parameters()).add_(1.0)
    assert reg.penalty(model, {}, torch.zeros(1)).item() == 0.0


def test_lwf_teacher_is_the_model_as_the_step_starts(setting):
    task, model, pretrained, earlier, data = setting
    reg = _regulariser({"name": "distillation", "weight": 1.0})
    reg.setup(model, _context(task, data, StepContext(1, pretrained, earlier)))
    assert reg.mode == "features"
    teacher = dict(reg.teacher.net.named_parameters())
    assert all(torch.equal(teacher[n], p) for n, p in model.net.named_parameters())
    assert not any(torch.equal(teacher[n], pretrained[n]) for n in anchored_names(model)[:3])
    reg.remove()
