"""How the training rows are dealt out to federated clients: ``iid`` or ``dirichlet:ALPHA``.

``iid``: a seeded shuffle cut into K near-equal parts, so every client sees the same label
mix. ``dirichlet:ALPHA`` (Hsu et al., 2019): for every class, the shares of its rows that
go to each client are drawn from Dirichlet(ALPHA, ..., ALPHA); a small ALPHA (0.1) gives each
client a few dominant classes, a large one (100) approaches ``iid``. Draws that leave a
client without a single row are redrawn (seeded), so the result is a function of
(labels, K, spec, seed) only and every row lands in exactly one client.

Example::

    parts = partition(np.array([0, 0, 1, 1, 2, 2]), 2, "dirichlet:0.5", seed=0)
    sorted(np.concatenate(parts)) == list(range(6))   # True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import RecipeError

REDRAWS = 100  # Dirichlet draws tried before giving up on "every client gets at least one row"


@dataclass(frozen=True)
class SplitSpec:
    kind: str                      # "iid" or "dirichlet"
    alpha: Optional[float] = None  # dirichlet concentration

    def __str__(self) -> str:
        return self.kind if self.alpha is None else f"{self.kind}:{self.alpha:g}"


def parse_split(spec: str) -> SplitSpec:
    """``"iid"`` or ``"dirichlet:ALPHA"`` (ALPHA > 0); anything else is a :class:`RecipeError`."""
    text = str(spec).strip().lower()
    if text == "iid":
        return SplitSpec("iid")
    if text.startswith("dirichlet"):
        _, _, raw = text.partition(":")
        try:
            alpha = float(raw)
        except ValueError:
            alpha = None
        if alpha is not None and alpha > 0 and np.isfinite(alpha):
            return SplitSpec("dirichlet", alpha)
        raise RecipeError(f"--split {spec!r}: give the concentration as dirichlet:ALPHA with ALPHA > 0, "
                          "e.g. dirichlet:0.5 (smaller = more skewed clients)")
    raise RecipeError(f"--split {spec!r}: unknown split; use iid or dirichlet:ALPHA (e.g. dirichlet:0.5)")


def partition(labels: np.ndarray, clients: int, spec, seed: int) -> list[np.ndarray]:
    """Row indices (sorted) of each client's share of the training rows."""
    spec = parse_split(spec) if isinstance(spec, str) else spec
    labels = np.asarray(labels)
    n = len(labels)
    if clients < 1:
        raise RecipeError(f"--clients {clients}: give at least one client")
    if clients > n:
        raise RecipeError(f"--clients {clients}: the training split has only {n} rows; every client needs at least "
                          f"one, so use at most {n} clients")
    rng = np.random.default_rng(seed)
    if spec.kind == "iid":
        return [np.sort(part) for part in np.array_split(rng.permutation(n), clients)]
    for _ in range(REDRAWS):
        parts = _dirichlet_draw(labels, clients, spec.alpha, rng)
        if min(len(p) for p in parts) > 0:
            return parts
    raise RecipeError(f"--split {spec}: in {REDRAWS} seeded draws some client always got no training row "
                      f"({n} rows, {clients} clients); use fewer clients or a larger ALPHA")


def _dirichlet_draw(labels: np.ndarray, clients: int, alpha: float, rng) -> list[np.ndarray]:
    parts: list[list[int]] = [[] for _ in range(clients)]
    for cls in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == cls))
        shares = rng.dirichlet(np.full(clients, alpha))
        cuts = (np.cumsum(shares)[:-1] * len(rows)).round().astype(int)
        for client, chunk in enumerate(np.split(rows, cuts)):
            parts[client].extend(chunk.tolist())
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]


def class_counts(labels: np.ndarray, parts: list[np.ndarray], label_names: list[str]) -> list[dict[str, int]]:
    """Per client: rows of each class (every class named, zeros included)."""
    labels = np.asarray(labels)
    return [{name: int((labels[p] == i).sum()) for i, name in enumerate(label_names)} for p in parts]


def label_skew(labels: np.ndarray, parts: list[np.ndarray]) -> float:
    """Mean total-variation distance between each client's label distribution and the pooled one
    (0 = every client has the global mix; near 1 = clients hold disjoint classes)."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    pooled = np.array([(labels == c).mean() for c in classes])
    dists = [0.5 * np.abs(np.array([(labels[p] == c).mean() for c in classes]) - pooled).sum() for p in parts]
    return float(np.mean(dists))
