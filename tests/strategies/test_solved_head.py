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


@pytest.mark.parametrize("metric,greater", [("macro_f1", True), ("log_loss", False)])
def test_a_tie_with_the_solved_head_keeps_the_trained_model(tiny_models, metric, greater):
    """docs/evaluation.md: a later evaluation that ties with the kept one (here every evaluation scores the
    same, as when training cannot move the validation predictions) replaces it, in both directions: the
    run ends with its trained weights, not the step-0 model. A tie is no improvement for patience."""
    from tuneforge.training.callbacks import MetricTracker

    model = kit.load(tiny_models, "cnn")
    data = kit.split(model, n=24)
    tr, _ = kit.trainer(model, {"name": "full", "warm_head": True}, data=data, **{"train.epochs": 2})
    tr.tracker = MetricTracker(metric, greater_is_better=greater)
    seen = []

    def evaluate():   # the same score at every evaluation, up to float noise far below TIE_TOLERANCE
        seen.append(tr.state.step)
        return {metric: 0.5 + 1e-9 * (-1) ** len(seen)}

    tr.evaluate_fn = evaluate
    trained = {}
    tr.callbacks.callbacks.append(types.SimpleNamespace(order=99, on_train_end=lambda t: None,
                                                        on_epoch_end=lambda t: trained.update(kit.params(model)),
                                                        on_train_start=lambda t: None, on_step_end=lambda t: None,
                                                        on_evaluate=lambda t, m: None))
    tr.fit()
    assert seen[0] == 0 and len(seen) == 3 and tr.state.step == seen[-1] > 0
    assert tr.state.best_step == tr.state.step                     # the last (trained) evaluation is kept
    assert tr.state.evals_without_improvement == 2                 # ...though no tie counted as an improvement
    assert not kit.changed(trained, kit.params(model))             # and the run ends with the trained weights


def test_the_kept_evaluation_moves_on_a_tie_or_a_gain_and_patience_only_on_a_gain_above_min_delta():
    from tuneforge.evaluation.metrics import TIE_TOLERANCE
    from tuneforge.training.callbacks import MetricTracker

    up, down = MetricTracker("macro_f1", True, min_delta=0.01), MetricTracker("log_loss", False, min_delta=0.01)
    assert up.keeps(0.7, None) and up.keeps(0.7, 0.7) and up.keeps(0.7 - TIE_TOLERANCE / 2, 0.7)
    assert not up.keeps(0.7 - 3 * TIE_TOLERANCE, 0.7) and up.keeps(0.705, 0.7)
    assert not up.improved(0.7, 0.7) and not up.improved(0.705, 0.7) and up.improved(0.72, 0.7)
    assert not MetricTracker("macro_f1", True).improved(0.7 + TIE_TOLERANCE / 2, 0.7)   # float noise is no gain
    assert down.keeps(0.3, 0.3) and down.keeps(0.29, 0.3) and not down.keeps(0.31, 0.3)
    assert not down.improved(0.3, 0.3) and down.improved(0.28, 0.3)
    nan = float("nan")
    assert not up.keeps(nan, 0.7) and up.keeps(0.1, nan) and up.improved(0.1, nan) and not up.improved(nan, 0.7)
