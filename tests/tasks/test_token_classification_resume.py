"""A token-classification run killed mid-way and resumed ends with the same weights as an uninterrupted one
(the warm head is solved on word features first; batches of sub-token labels are cut the same way)."""
import pytest
import torch

from helpers.ner_toy import ner_rows, write_jsonl
from toy import Crash
from tuneforge.data import encode_split, load_data
from tuneforge.recipe import load_recipe
from tuneforge.strategies import Strategy
from tuneforge.tasks import TASKS
from tuneforge.training import Checkpointer, build_trainer

TASK = TASKS.get("token-classification")


@pytest.fixture(scope="module")
def setup(bert_dir, tmp_path_factory):
    path = write_jsonl(tmp_path_factory.mktemp("ner") / "toy.jsonl", ner_rows(64, seed=2))
    recipe = load_recipe({"task": "token-classification", "model": {"name": str(bert_dir)},
                          "data": {"train": str(path), "validation": None, "test": None, "max_length": 24},
                          "optimizer": {"lr": 1e-2}, "train": {"epochs": 2, "batch_size": 16, "seed": 0}})
    return recipe, load_data(recipe.data, TASK, 0)


def _trainer(recipe, data, run_dir, callbacks):
    torch.manual_seed(0)
    model = TASK.build_model(recipe.model, data.label_names)
    strategy = Strategy.from_section(recipe.strategy)
    model = strategy.prepare(model)
    encoded = encode_split(data.train, model, recipe.data)
    return build_trainer(model, TASK, recipe, strategy, encoded, run_dir=run_dir, callbacks=callbacks), model


def _params(model):
    return {n: p.detach().clone() for n, p in model.net.named_parameters()}


def test_resumed_token_run_equals_uninterrupted(setup, tmp_path):
    recipe, data = setup
    whole, m_whole = _trainer(recipe, data, tmp_path / "a", [Checkpointer(2)])
    whole.fit()
    assert whole.head_solution is not None and whole.head_solution["n"] > 64   # solved on words
    first, _ = _trainer(recipe, data, tmp_path / "b", [Checkpointer(2), Crash(3)])
    with pytest.raises(KeyboardInterrupt):
        first.fit()
    resumed, m_resumed = _trainer(recipe, data, tmp_path / "b", [Checkpointer(2)])
    resumed.fit(resume=True)
    a, b = _params(m_whole), _params(m_resumed)
    assert resumed.state.step == whole.state.step == 8
    assert all(torch.equal(a[n], b[n]) for n in a)
