"""The head solver reaches the optimum of known convex problems: the same coefficients and
predictions as scikit-learn on the same features (softmax, per-label sigmoid, ridge), weights
that apply to raw features (standardisation folded in), and a C chosen by validation loss."""
import numpy as np
import torch
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from tuneforge.head.solver import C_GRID, solve_head


def data(n=240, d=12, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.2, 4.0, size=d) + rng.normal(size=d) * 3  # unscaled, offset
    scores = x @ rng.normal(size=(d, k)) + rng.normal(size=(n, k)) * 2.0                 # noisy: not separable
    return x, scores


def apply(head, x):
    return x @ head.weight.numpy().T + head.bias.numpy()


@pytest.mark.parametrize("c", [0.01, 1.0])
def test_softmax_head_equals_sklearn_logistic_regression(c):
    x, scores = data()
    y = scores.argmax(1)
    head = solve_head("softmax", x, y, grid=(c,))
    z = StandardScaler().fit_transform(x)
    sk = LogisticRegression(C=c, max_iter=10_000, tol=1e-12).fit(z, y)
    logits = apply(head, x)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    assert np.abs(probs - sk.predict_proba(z)).max() < 1e-5
    # the same coefficients, up to softmax's shift invariance (both centre them: the penalty does)
    scale = StandardScaler().fit(x).scale_
    assert np.abs(head.weight.numpy() * scale - sk.coef_).max() < 1e-3
    assert head.record["C"] == c and head.record["selected_by"] == "given"


def test_sigmoid_head_equals_one_sklearn_logistic_regression_per_label():
    x, scores = data(k=4, seed=1)
    y = (scores > 0.5).astype(int)            # multi-label 0/1 targets [N, 4]
    head = solve_head("sigmoid", x, y, grid=(0.3,))
    z = StandardScaler().fit_transform(x)
    logits = apply(head, x)
    for j in range(y.shape[1]):
        sk = LogisticRegression(C=0.3, max_iter=10_000, tol=1e-12).fit(z, y[:, j])
        assert np.abs(logits[:, j] - sk.decision_function(z)).max() < 1e-4


def test_ridge_head_equals_the_closed_form_and_sklearn():
    x, scores = data(k=2, seed=2)
    head = solve_head("ridge", x, scores, grid=(0.05,))
    z = StandardScaler().fit_transform(x)
    sk = Ridge(alpha=1 / 0.05).fit(z, scores)
    assert np.abs(apply(head, x) - sk.predict(z)).max() < 1e-8
    zc, yc = z - z.mean(0), scores - scores.mean(0)   # the textbook closed form, by hand
    w = np.linalg.solve(zc.T @ zc + np.eye(z.shape[1]) / 0.05, zc.T @ yc)
    assert np.abs(apply(head, x) - (z @ w + scores.mean(0))).max() < 1e-8


def test_c_is_chosen_by_validation_loss():
    x, scores = data(n=400, d=30, seed=3)
    y = scores.argmax(1)
    head = solve_head("softmax", x[:200], y[:200], validation=(x[200:], y[200:]))
    grid = {float(c): v for c, v in head.record["grid"].items()}
    assert head.record["selected_by"] == "validation loss"
    assert head.record["val_loss"] == pytest.approx(min(grid.values()), abs=1e-6)
    assert len(grid) >= 3 and min(grid) == min(C_GRID)    # the path starts at the strongest penalty
    # the chosen strength generalises at least as well as the weakest penalty tried
    assert head.record["val_loss"] <= grid[max(grid)]


def test_without_validation_c_comes_from_cross_validation_and_still_fits():
    x, scores = data(seed=4)
    y = scores.argmax(1)
    head = solve_head("softmax", x, y)
    assert "cross-validation" in head.record["selected_by"]
    assert (apply(head, x).argmax(1) == y).mean() > 0.7


def test_absent_classes_get_rows_but_are_never_predicted():
    x, scores = data(seed=5)
    y = scores.argmax(1)                     # classes 0..2 of 5
    head = solve_head("softmax", x, y, num_outputs=5, grid=(1.0,))
    assert head.weight.shape == (5, x.shape[1])
    assert set(apply(head, x).argmax(1)) <= {0, 1, 2}


@pytest.mark.parametrize("scaling", ["global", "none"])
def test_warm_start_scalings_keep_weights_small_on_near_constant_features(scaling):
    """A warm start must not hand the body a head with 1/std-sized weights (divergence on the first step)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 6))
    x[:, 0] = 5.0 + 1e-6 * rng.normal(size=300)      # a dimension that hardly varies
    y = (x[:, 1] + 0.3 * rng.normal(size=300) > 0).astype(np.int64)
    feature = solve_head("softmax", x, y, num_outputs=2, grid=(1.0,))
    glob = solve_head("softmax", x, y, num_outputs=2, grid=(1.0,), scaling=scaling)
    assert feature.weight.abs().max() > 1e3                 # per-column standardisation: a huge weight
    assert glob.weight.abs().max() < 10 and glob.record["scaling"] == scaling
    logits = torch.as_tensor(x) @ glob.weight.T + glob.bias
    assert (logits.argmax(1).numpy() == y).mean() > 0.85    # and it still separates the classes


def test_many_rows_choose_c_on_a_subsample_then_fit_all_rows():
    """A token task has tens of thousands of word rows: C is chosen on SEARCH_ROWS of them, and the head
    is then fitted on all rows at that C (the same optimum as fitting all rows at that C directly)."""
    from tuneforge.head.solver import SEARCH_ROWS

    rng = np.random.default_rng(0)
    n, d, k = SEARCH_ROWS * 2 + 500, 12, 4
    centres = rng.normal(size=(k, d)) * 2
    y = rng.integers(0, k, n)
    x = centres[y] + rng.normal(size=(n, d))
    vy = rng.integers(0, k, 600)
    vx = centres[vy] + rng.normal(size=(600, d))
    head = solve_head("softmax", x, y, validation=(vx, vy))
    assert f"C chosen on {SEARCH_ROWS:,} of {n:,} training rows" in head.record["selected_by"]
    assert head.record["n"] == n
    direct = solve_head("softmax", x, y, grid=(head.record["C"],))
    assert head.record["train_loss"] == pytest.approx(direct.record["train_loss"], rel=1e-4)


def test_a_warm_start_stops_earlier_and_chooses_the_same_strength_and_loss():
    """Before fine-tuning the head only needs to be near its optimum: the looser tolerance takes fewer
    iterations, picks the same C and lands within 1e-4 of the exact validation loss."""
    x, scores = data(n=1200, d=40, k=5, seed=6)
    y = scores.argmax(1)
    split = (x[:900], y[:900]), (x[900:], y[900:])
    exact = solve_head("softmax", *split[0], validation=split[1], scaling="none")
    warm = solve_head("softmax", *split[0], validation=split[1], scaling="none", warm_start=True)
    assert warm.record["warm_start"] and not exact.record["warm_start"]
    assert warm.record["C"] == exact.record["C"]
    assert warm.record["val_loss"] == pytest.approx(exact.record["val_loss"], abs=1e-4)
    assert warm.record["iterations"] < exact.record["iterations"]
