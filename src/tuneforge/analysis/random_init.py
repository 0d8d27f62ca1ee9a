"""The "without pre-training" ablation: the same architecture trained from random weights.

The model is loaded as usual, then every module that has ``reset_parameters`` (linear,
convolution, embedding and normalisation layers) is re-initialised with PyTorch's
defaults under the run's seed, so no pre-trained weight survives. It trains with the
recipe's optimizer, schedule, epochs, batch size and seed on the same encoded splits,
always with strategy ``full`` (freezing random layers would measure nothing useful), and
is scored on the same test split. Opt-in (``evaluate.random_init: true``): it costs a
second full training run.
"""
from __future__ import annotations

import torch

from ..recipe.schema import StrategySection
from ..strategies import Strategy
from ..training import MetricTracker, build_trainer
from ..training.evaluator import SplitEvaluator
from ..evaluation import greater_is_better
from .retention import _pretrained_copy


def randomise(model, seed: int):
    """Re-initialise every parameter of ``model.net`` in place; returns ``model``.

    Raises RuntimeError when some parameters belong to no module with ``reset_parameters``.
    """
    torch.manual_seed(seed)
    touched = set()
    for module in model.net.modules():
        if hasattr(module, "reset_parameters") and callable(module.reset_parameters):
            module.reset_parameters()
            touched.update(id(p) for p in module.parameters(recurse=False))
    left = [n for n, p in model.net.named_parameters() if id(p) not in touched]
    with torch.no_grad():
        for name, p in model.net.named_parameters():
            if id(p) not in touched:   # e.g. position embeddings or class tokens held as bare parameters
                torch.nn.init.normal_(p, std=0.02)
    model.randomised_bare = left
    return model


def random_init_baseline(p, device, precision) -> dict:
    """Test metrics of the architecture trained from scratch (``p`` is the pipeline's ``Prepared``)."""

    recipe = p.recipe.model_copy(update={"strategy": StrategySection(name="full")})
    model = randomise(_pretrained_copy(p), recipe.train.seed)
    strategy = Strategy.from_section(recipe.strategy)
    metric = recipe.evaluate.metric or p.task.default_metric()
    has_val = "validation" in p.encoded
    trainer = build_trainer(model, p.task, recipe, strategy, p.encoded["train"], run_dir=None,
                            tracker=MetricTracker(metric, greater_is_better(metric)) if has_val else None)
    if has_val:
        val = SplitEvaluator(p.task, p.encoded["validation"], p.data.validation.targets, p.data.label_names,
                             recipe.evaluate.batch_size, precision, device, p.scaler)
        trainer.evaluate_fn = lambda: val(model)
    state = trainer.fit()
    if p.scaler is not None:
        model.fold_target_scale(p.scaler.mean, p.scaler.std)
    split = "test" if "test" in p.encoded else "validation"
    test = SplitEvaluator(p.task, p.encoded[split], getattr(p.data, split).targets, p.data.label_names,
                          recipe.evaluate.batch_size, precision, device)(model)
    return {**test, "train_seconds": state.seconds}
