"""train.label_smoothing: the classification losses equal PyTorch's smoothed cross-entropy (hard
labels, class weights, probability rows, token labels with ignored positions), the trainer trains on
that loss, and tasks without class targets refuse the key before any run starts."""
import pytest
import torch
import torch.nn.functional as F

from tuneforge.recipe import load_recipe
from tuneforge.recipe.validate import recipe_problems
from tuneforge.strategies import Strategy
from tuneforge.tasks import TASKS
from tuneforge.training import Callback, build_trainer

from toy import ToySplit, toy_model

EPS = 0.1


def test_classification_loss_is_torch_smoothed_cross_entropy():
    torch.manual_seed(0)
    logits, y, w = torch.randn(12, 4), torch.randint(0, 4, (12,)), torch.rand(4) + 0.5
    task = TASKS.get("text-classification")
    assert torch.allclose(task.loss(logits, y, label_smoothing=EPS), F.cross_entropy(logits, y, label_smoothing=EPS))
    assert torch.allclose(task.loss(logits, y, w, label_smoothing=EPS),
                          F.cross_entropy(logits, y, weight=w, label_smoothing=EPS))
    assert not torch.allclose(task.loss(logits, y, label_smoothing=EPS), task.loss(logits, y))
    probs = torch.softmax(torch.randn(12, 4), -1)  # mixup rows: smoothed the same way
    assert torch.allclose(task.loss(logits, probs, label_smoothing=EPS),
                          F.cross_entropy(logits, probs, label_smoothing=EPS))


def test_token_classification_loss_is_torch_smoothed_cross_entropy():
    torch.manual_seed(0)
    logits, y = torch.randn(2, 5, 3), torch.randint(0, 3, (2, 5))
    y[0, 0] = y[1, 3] = -100
    got = TASKS.get("token-classification").loss(logits, y, label_smoothing=EPS)
    assert torch.allclose(got, F.cross_entropy(logits.reshape(-1, 3), y.reshape(-1), ignore_index=-100,
                                               label_smoothing=EPS))


class Recording(ToySplit):
    """The toy split that remembers the targets of the first training batch it built."""

    first_targets = None

    def batch(self, indices, train=False, generator=None):
        b = super().batch(indices, train, generator)
        if train and self.first_targets is None:
            self.first_targets = b["targets"].clone()
        return b


class FirstStep(Callback):
    """The head's logits on the first training batch, and the loss the trainer reported for that step."""

    def __init__(self, model):
        self.logits, self.loss = None, None
        model.net.head.register_forward_hook(self._keep)

    def _keep(self, module, args, out):
        if self.logits is None:
            self.logits = out.detach().clone()

    def on_step_end(self, trainer):
        if self.loss is None:
            self.loss = trainer.last_loss


def test_trainer_trains_on_the_smoothed_loss():
    split = Recording()
    r = load_recipe({"task": "image-classification", "model": {"name": "toy"}, "data": {"train": "x"},
                     "strategy": {"name": "full", "warm_head": False}, "optimizer": {"lr": 1e-3},
                     "train": {"batch_size": 32, "max_steps": 1,
                               "class_balance": "none", "precision": "fp32", "label_smoothing": EPS}})
    m = toy_model()
    spy = FirstStep(m)
    build_trainer(m, TASKS.get(r.task), r, Strategy.from_section(r.strategy), split, callbacks=[spy]).fit()
    smoothed = F.cross_entropy(spy.logits, split.first_targets, label_smoothing=EPS).item()
    plain = F.cross_entropy(spy.logits, split.first_targets).item()
    assert spy.loss == pytest.approx(smoothed, rel=1e-5) and abs(smoothed - plain) > 1e-4


@pytest.mark.parametrize("task", ["text-regression", "text-multilabel", "causal-lm"])
def test_tasks_without_class_targets_refuse_it(task):
    r = load_recipe({"task": task, "model": {"name": "x"}, "data": {"train": "x"}, "train": {"label_smoothing": EPS}})
    assert any(p.startswith("train.label_smoothing:") and "remove it" in p for p in recipe_problems(r))


def test_hf_trainer_name_points_to_the_key():
    with pytest.raises(Exception, match="train.label_smoothing"):
        load_recipe({"task": "text-classification", "model": {"name": "x"}, "data": {"train": "x"},
                     "train": {"label_smoothing_factor": EPS}})
