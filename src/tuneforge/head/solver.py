"""Fit a linear head to its optimum on frozen features: the linear probe as a convex problem.

With the body frozen, training the head is convex (multinomial or per-output logistic
regression, or ridge regression), so it can be *solved* instead of stepped: full-batch
L-BFGS in float64 for ``"softmax"`` and ``"sigmoid"`` heads, the closed form for
``"ridge"``. Stepping the same head by SGD for a few epochs at a guessed learning rate
often stops far from that optimum; the solution needs no learning rate at all.

The objective, per L2 strength ``C`` (scikit-learn's inverse strength, so results can be
compared with ``LogisticRegression(C=C)`` / ``Ridge(alpha=1/C)``) on standardised features
``z = (x - mean) / std``::

    softmax:  sum_i CE(W z_i + b, y_i)                + ||W||^2 / (2 C)
    sigmoid:  sum_i sum_k BCE(W_k z_i + b_k, y_ik)    + ||W||^2 / (2 C)
    ridge:    sum_i ||W z_i + b - y_i||^2             + ||W||^2 / C

The bias is not penalised. ``C`` is chosen from :data:`C_GRID` by the loss on a validation
split; without one, by ``FOLDS``-fold cross-validation on the training rows. The
standardisation is folded into the returned weight and bias, so they apply to raw features.

``scaling``: ``"feature"`` standardises every feature dimension (``std`` per column: the
scikit-learn baseline's objective, the best probe on frozen features); ``"global"`` divides
the centred features by one scale (their overall RMS); ``"none"`` only centres them, so the
penalty bounds the raw weights. A head that the body will keep training under (a warm start
before fine-tuning) uses ``"none"``: folding ``1/std`` into the weights gives dimensions that
hardly vary enormous weights, so the first small change of the body, or dropout before the
head, moves the logits by hundreds and the run diverges (measured: MiniLM ``full`` after a
per-column warm start, loss 1.06 -> 2,100 at step 2; a tiny BERT whose pooled features vary by
1e-3 diverged the same way with one global scale).

Example::

    head = solve_head("softmax", train_x, train_y, validation=(val_x, val_y))
    logits = train_x @ head.weight.T + head.bias
    head.record["C"], head.record["val_loss"]
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal, Optional

import numpy as np
import torch
import torch.nn.functional as F

SolverKind = Literal["softmax", "sigmoid", "ridge"]
C_GRID = tuple(float(c) for c in np.logspace(-4, 2, 7))  # inverse L2 strengths tried (1e-4 .. 100)
FOLDS = 3
MAX_ITER = 300       # L-BFGS iterations per fit (the final fit: 3x)
SMALL = 20_000_000   # below this many feature values x outputs the solver runs on one thread
PATIENCE = 2         # stop the C path after this many grid points without a better held-out loss
WARM_TOL = 1e-6      # gradient tolerance of a warm start (fine-tuning moves it anyway): the C chosen and the
                     # validation loss agree with 1e-9 to 5 digits on the NER set, in half the iterations
SEARCH_ROWS = 4000   # above this many training rows, C is chosen on a random subsample of them (a token task
                     # has tens of thousands of word rows: the full path took minutes), then one fit on all


@dataclass
class SolvedHead:
    weight: torch.Tensor          # [K, D] float64, applies to raw (unstandardised) features
    bias: torch.Tensor            # [K]
    record: dict = field(default_factory=dict)  # C, selected_by, train_loss, val_loss, iterations, seconds


def solve_head(kind: SolverKind, x, y, validation: Optional[tuple] = None, num_outputs: Optional[int] = None,
               grid: tuple[float, ...] = C_GRID, seed: int = 0,
               scaling: Literal["feature", "global", "none"] = "feature", warm_start: bool = False) -> SolvedHead:
    """The optimal linear head for features ``x`` [N, D] and targets ``y``.

    ``y``: class ids [N] (softmax), 0/1 labels [N, K] (sigmoid), values [N] or [N, K] (ridge).
    ``validation``: ``(x, y)`` used to choose ``C`` (by the same loss, unpenalised).
    ``num_outputs``: number of classes for softmax (default: largest id + 1).
    ``warm_start``: the head only starts fine-tuning, so every fit stops at :data:`WARM_TOL`.
    """
    threads = torch.get_num_threads()
    try:
        if np.size(x) * max(1, int(num_outputs or 1)) < SMALL:  # thread start-up costs more than it saves
            torch.set_num_threads(1)
        return _solve(kind, x, y, validation, num_outputs, grid, seed, scaling, warm_start)
    finally:
        torch.set_num_threads(threads)


def _solve(kind, x, y, validation, num_outputs, grid, seed, scaling="feature", warm_start=False) -> SolvedHead:
    started = time.perf_counter()
    x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"features must be a non-empty [N, D] array, got shape {tuple(x.shape)}")
    y = _targets(kind, y, num_outputs)
    k = _outputs(kind, y, num_outputs)
    if scaling not in ("feature", "global", "none"):
        raise ValueError(f"scaling must be 'feature', 'global' or 'none', got {scaling!r}")
    mean = x.mean(0)
    if scaling == "feature":
        std = x.std(0, unbiased=False)
        std = torch.where(std > 1e-12, std, torch.ones_like(std))
    elif scaling == "none":
        std = torch.ones_like(mean)
    else:
        rms = float(((x - mean) ** 2).mean().sqrt())
        std = torch.full_like(mean, rms if rms > 1e-12 else 1.0)
    z = (x - mean) / std
    sub = _search_rows(len(z), seed)
    zs, ys = (z, y) if sub is None else (z[sub], y[sub])
    sub_note = "" if sub is None else f" (C chosen on {len(sub):,} of {len(z):,} training rows)"
    if len(grid) == 1:
        best_c, selected_by, scores = grid[0], "given", {}
    elif validation is not None:
        vz = (torch.as_tensor(np.asarray(validation[0]), dtype=torch.float64) - mean) / std
        vy = _targets(kind, validation[1], k)
        if sub is not None and len(vz) > SEARCH_ROWS:
            vsub = torch.as_tensor(np.random.default_rng(seed + 1).choice(len(vz), SEARCH_ROWS, replace=False))
            vz, vy = vz[vsub], vy[vsub]
        scores, _ = _path(kind, zs, ys, k, grid, eval_set=(vz, vy), tol=WARM_TOL if warm_start else 1e-9)
        best_c, selected_by = min(scores, key=scores.get), "validation loss" + sub_note
    else:
        scores = _cross_validate(kind, zs, ys, k, grid, seed)
        best_c, selected_by = min(scores, key=scores.get), f"{FOLDS}-fold cross-validation on train" + sub_note
    exact = sub is None and not warm_start
    w, b, iters = _fit(kind, z, y, k, best_c, max_iter=3 * MAX_ITER if exact else MAX_ITER,
                       tol=WARM_TOL if warm_start else 1e-12 if exact else 1e-9)
    train_loss = float(_loss(kind, z @ w.T + b, y))
    record = {"kind": kind, "scaling": scaling, "warm_start": warm_start, "C": best_c, "selected_by": selected_by, "train_loss": train_loss,
              "val_loss": scores.get(best_c) if selected_by.startswith("validation loss") else None,
              "grid": {f"{c:.3g}": round(v, 6) for c, v in scores.items()}, "iterations": iters,
              "n": int(len(x)), "dim": int(x.shape[1]), "seconds": time.perf_counter() - started}
    return SolvedHead(w / std, b - (w / std) @ mean, record)


def _search_rows(n: int, seed: int) -> Optional[torch.Tensor]:
    """The rows C is chosen on when there are more than :data:`SEARCH_ROWS` (seeded), else None (all)."""
    if n <= SEARCH_ROWS:
        return None
    return torch.as_tensor(np.sort(np.random.default_rng(seed).choice(n, SEARCH_ROWS, replace=False)))


def head_loss(kind: SolverKind, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The mean data loss of a head's outputs (what ``C`` is chosen by)."""
    return _loss(kind, logits, y)


# -- internals ---------------------------------------------------------------------------------

def _targets(kind: SolverKind, y, k: Optional[int]) -> torch.Tensor:
    y = np.asarray(y)
    if kind == "softmax":
        return torch.as_tensor(y.astype(np.int64))
    t = torch.as_tensor(y.astype(np.float64))
    return t.unsqueeze(1) if t.ndim == 1 else t


def _outputs(kind: SolverKind, y: torch.Tensor, k: Optional[int]) -> int:
    if kind == "softmax":
        return max(int(k or 0), int(y.max()) + 1, 2)
    return y.shape[1]


def _loss(kind: SolverKind, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if kind == "softmax":
        return F.cross_entropy(logits, y)
    if kind == "sigmoid":
        return F.binary_cross_entropy_with_logits(logits, y, reduction="sum") / len(y)
    return ((logits - y) ** 2).sum() / len(y)


def _fit(kind: SolverKind, z: torch.Tensor, y: torch.Tensor, k: int, c: float, start: Optional[tuple] = None,
         max_iter: int = MAX_ITER, tol: float = 1e-9) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Weight [K, D] and bias [K] minimising the objective for one ``C`` on standardised ``z``."""
    n, d = z.shape
    if kind == "ridge":  # centred closed form: the bias is the mean target, unpenalised
        zm, ym = z.mean(0), y.mean(0)
        zc, yc = z - zm, y - ym
        gram = zc.T @ zc + torch.eye(d, dtype=z.dtype) / c
        w = torch.linalg.solve(gram, zc.T @ yc).T
        return w, ym - w @ zm, 0
    # the objective divided by n (same minimiser, better conditioned numbers for L-BFGS)
    lam = 1.0 / (c * n)
    w = torch.zeros(k, d, dtype=z.dtype) if start is None else start[0].clone()
    b = torch.zeros(k, dtype=z.dtype) if start is None else start[1].clone()
    w.requires_grad_(True)
    b.requires_grad_(True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, history_size=20, tolerance_grad=tol,
                            tolerance_change=tol * 1e-2, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = _loss(kind, z @ w.T + b, y) + 0.5 * lam * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    iters = int(opt.state[opt._params[0]].get("n_iter", 0))
    return w.detach(), b.detach(), iters


def _path(kind, z, y, k, grid, eval_set, tol: float = 1e-9) -> tuple[dict[float, float], tuple]:
    """Fit ``C`` from the strongest penalty to the weakest (each warm-started from the last) and
    score each on ``eval_set``; stop after ``PATIENCE`` points without improvement (the held-out
    loss is, in practice, U-shaped in ``C``; weak penalties are also the slowest fits)."""
    scores, start, best, since = {}, None, float("inf"), 0
    for c in sorted(grid):
        w, b, _ = _fit(kind, z, y, k, c, start, tol=tol)
        start = (w, b)
        vz, vy = eval_set
        scores[c] = float(_loss(kind, vz @ w.T + b, vy))
        best, since = (scores[c], 0) if scores[c] < best else (best, since + 1)
        if since >= PATIENCE:
            break
    return scores, start


def _cross_validate(kind, z, y, k, grid, seed) -> dict[float, float]:
    """Mean held-out loss per ``C`` over ``FOLDS`` folds (plain random folds; too few rows: middle C)."""
    n = len(z)
    if n < 2 * FOLDS:
        mid = sorted(grid)[len(grid) // 2]
        return {mid: 0.0}
    order = np.random.default_rng(seed).permutation(n)
    totals: dict[float, float] = {}
    for f in range(FOLDS):
        held = np.zeros(n, dtype=bool)
        held[order[f::FOLDS]] = True
        held_t = torch.as_tensor(held)
        scores, _ = _path(kind, z[~held_t], y[~held_t], k, grid, eval_set=(z[held_t], y[held_t]))
        totals = scores if f == 0 else {c: totals[c] + scores[c] for c in totals if c in scores}
    return {c: v / FOLDS for c, v in totals.items()}
