"""Solved heads in the trainer: the linear probe is fitted to the optimum scikit-learn finds on the
same features and takes no SGD step; LP-FT starts fine-tuning from that head; a resumed run does not
re-solve and equals an uninterrupted one; where the head cannot be solved exactly the probe falls
back to SGD and says why; ``warm_head: true`` there is refused."""
import types

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import kit
from tuneforge.errors import RecipeError
from tuneforge.head.start import HeadData, head_inputs


def _sklearn_probs(x, y, c, x_eval):
    scaler = StandardScaler().fit(x)
    sk = LogisticRegression(C=c, max_iter=10_000, tol=1e-10).fit(scaler.transform(x), y)
    return sk.predict_proba(scaler.transform(x_eval))


@pytest.mark.parametrize("family", ["vit", "cnn"])
def test_linear_probe_is_solved_to_the_sklearn_optimum_without_sgd_steps(tiny_models, family):
    model = kit.load(tiny_models, family)
    data = kit.split(model, n=48)
    before = kit.params(model)
    tr, _ = kit.trainer(model, {"name": "linear-probe"}, data=data)
    assert tr.plan.solves_head and tr.total_steps == 0 and tr.defaults["strategy.warm_head"][0] is True
    tr.fit()
    assert tr.state.step == 0 and tr.head_solution is not None
    head = kit.block_params(model, [model.layer_map.head_index])
    changed = kit.changed(before, kit.params(model))
    assert changed and changed <= head                           # only the head moved
    x, y = head_inputs(model, data, 16)                           # the head's inputs, frozen body
    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(data.batch(np.arange(len(data)))), -1).numpy()
    expected = _sklearn_probs(x, y, tr.head_solution["C"], x)
    assert np.abs(probs - expected).max() < 1e-3


def test_lp_ft_fine_tunes_everything_from_the_solved_head(tiny_models):
    model = kit.load(tiny_models, "vit")
    tr, _ = kit.trainer(model, {"name": "lp-ft"}, **{"train.max_steps": 3})
    (stage,) = tr.plan.stages
    assert stage.solve_head and stage.start_step == 0 and tr.total_steps == 3
    assert tr.recipe.strategy.model_dump()["ft_lr_scale"] == 1.0   # the whole budget fine-tunes at lr
    spy = kit.StageSpy(model, [0])
    tr.callbacks.callbacks.append(spy)
    tr.fit()
    solved_head = spy.params[0]                                   # at train start: after the solve
    body = kit.block_params(model, range(model.layer_map.head_index))
    assert kit.changed(solved_head, kit.params(model)) >= body   # then every block trains


def test_resumed_warm_start_run_does_not_resolve_and_equals_uninterrupted(tiny_models, tmp_path, monkeypatch):
    import tuneforge.training.trainer as trainer_module

    def run(run_dir, callbacks, resume=False):
        model = kit.load(tiny_models, "cnn")
        tr, _ = kit.trainer(model, {"name": "full"}, run_dir=run_dir, callbacks=callbacks,
                            **{"train.max_steps": 5, "train.epochs": 2})
        tr.fit(resume=resume)
        return tr, model

    full, m_full = run(tmp_path / "a", [kit.Checkpointer(1)])
    assert full.head_solution is not None
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", [kit.Checkpointer(1), kit.Crash(3)])
    calls = []
    real = trainer_module.solve_model_head
    monkeypatch.setattr(trainer_module, "solve_model_head", lambda *a, **k: calls.append(1) or real(*a, **k))
    resumed, m_res = run(tmp_path / "b", [kit.Checkpointer(1)], resume=True)
    assert calls == [] and resumed.head_solution is None
    assert not kit.changed(kit.params(m_full), kit.params(m_res))


def test_bert_head_behind_a_pooler_falls_back_to_sgd_and_warm_head_true_is_refused(tiny_models):
    model = kit.load(tiny_models, "bert")   # the head reads the pooler (dense + tanh), then its linear

    def mean_pooled(self, batch):           # features that are NOT the head's inputs: the pooler sits between
        with torch.no_grad():
            h = self.net.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        return h.mean(1)

    model.features = types.MethodType(mean_pooled, model)
    tr, _ = kit.trainer(model, {"name": "linear-probe"})
    assert not tr.head_solvable and "pooler" in tr.head_unsolvable_why
    assert not tr.plan.solves_head and tr.total_steps > 0        # the head trains by SGD instead
    assert tr.defaults["strategy.warm_head"] == (False, "the head cannot be solved exactly on this model")
    with pytest.raises(RecipeError, match="strategy.warm_head"):
        kit.trainer(model, {"name": "linear-probe", "warm_head": True})


def test_bert_head_is_solved_once_features_are_the_head_inputs(tiny_models):
    """The contract the solver relies on, constructed: features() returns the pooler output."""
    model = kit.load(tiny_models, "bert")

    def pooled(self, batch):
        with torch.no_grad():
            return self.net.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).pooler_output

    model.features = types.MethodType(pooled, model)
    data = kit.split(model, n=48)
    tr, _ = kit.trainer(model, {"name": "linear-probe"}, data=data)
    assert tr.head_solvable and tr.features_are_head_inputs
    given = []

    def provide(shared):   # what the pipeline does: hand over cached features plus a validation split
        given.append(shared)
        x, y = head_inputs(model, data, 16)
        return HeadData((x[:32], y[:32]), (x[32:], y[32:]))

    tr.head_data = provide
    tr.fit()
    assert given == [True] and tr.head_solution["selected_by"] == "validation loss"
    x, y = head_inputs(model, data, 16)
    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(data.batch(np.arange(48))), -1).numpy()
    assert np.abs(probs - _sklearn_probs(x[:32], y[:32], tr.head_solution["C"], x)).max() < 1e-3


def test_a_warm_start_that_training_only_spoils_ends_with_the_solved_head(tiny_models):
    """The solved head is scored at step 0, so restore_best falls back to it when every later
    evaluation is worse (here a learning rate of 50 wrecks the body on the first step)."""
    from tuneforge.training.callbacks import MetricTracker

    model = kit.load(tiny_models, "cnn")
    data = kit.split(model, n=48)
    tr, _ = kit.trainer(model, {"name": "full", "warm_head": True}, data=data,
                        **{"optimizer.lr": 50.0, "train.epochs": 2})
    tr.tracker = MetricTracker("log_loss", greater_is_better=False)
    seen = []

    def evaluate():
        model.eval()
        with torch.no_grad():
            logits = model(data.batch(np.arange(len(data))))
        loss = float(torch.nn.functional.cross_entropy(logits.float(), torch.as_tensor(data.targets)))
        seen.append((tr.state.step, loss, {k: v.clone() for k, v in model.net.state_dict().items()}))
        return {"log_loss": loss}

    tr.evaluate_fn = evaluate
    tr.fit()
    steps = [s for s, _, _ in seen]
    assert steps[0] == 0 and tr.state.step > 0                   # scored before the first step
    assert all(loss > seen[0][1] for _, loss, _ in seen[1:])      # training only made it worse...
    assert tr.state.best_step == 0                               # ...so the solved head is the best
    final = model.net.state_dict()
    assert all(torch.equal(final[k], v) for k, v in seen[0][2].items())   # and the run ends with it
