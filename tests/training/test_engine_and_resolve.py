"""The trainer's setup: defaults resolved once before it is built (the trainer keeps that recipe as it
is), and the plain engine as the default way of making steps."""
from tuneforge.recipe import load_recipe
from tuneforge.strategies import Strategy
from tuneforge.tasks import TASKS
from tuneforge.training import PlainEngine, Trainer, resolve

from toy import ToySplit, toy_model

TASK = TASKS.get("image-classification")


def test_the_trainer_keeps_the_resolved_recipe_and_defaults_to_the_plain_engine():
    r = load_recipe({"task": "image-classification", "model": {"name": "toy"}, "data": {"train": "x"},
                     "strategy": {"name": "full"}, "train": {"epochs": 1, "batch_size": 16, "seed": 0}})
    assert r.optimizer.lr is None
    m = toy_model()
    resolved = resolve(m, TASK, r, Strategy.from_section(r.strategy), ToySplit())
    assert resolved.recipe.optimizer.lr == resolved.defaults["optimizer.lr"][0] is not None
    tr = Trainer(m, TASK, resolved, ToySplit())
    assert tr.recipe is resolved.recipe and tr.defaults is resolved.defaults
    assert isinstance(tr.engine, PlainEngine) and tr.engine.describe() is None
    assert tr.engine.grad_clip(None) == float("inf") and tr.engine.grad_clip(1.0) == 1.0
