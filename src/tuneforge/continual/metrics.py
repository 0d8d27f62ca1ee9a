"""What an accuracy matrix says about a sequence of tasks: accuracy, forgetting, transfer.

``R`` has one row per moment and one column per task: row 0 is the model before any
training (pre-trained body, untrained heads), row ``i`` (1..T) the model after training
task ``i``; ``R[i][j]`` is its accuracy on task ``j``'s test split. With T tasks:

* average accuracy ``ACC = 1/T sum_j R[T][j]`` (Lopez-Paz & Ranzato 2017, GEM), and its
  curve: after task ``i``, the mean over the tasks seen so far, ``1/i sum_{j<=i} R[i][j]``;
* backward transfer ``BWT = 1/(T-1) sum_{j<T} (R[T][j] - R[j][j])`` (GEM): negative is
  forgetting;
* forward transfer ``FWT = 1/(T-1) sum_{j>1} (R[j-1][j] - R[0][j])`` (GEM; Avalanche's
  ``ForwardTransfer`` takes the same reference, the model at initialisation, row 0);
* average forgetting ``F = 1/(T-1) sum_{j<T} max_{l<T} (R[l][j] - R[T][j])`` over rows
  ``l >= j`` (Chaudhry et al. 2018, "Riemannian Walk"): how far each earlier task fell from
  its best.

Example::

    sequence_metrics([[0.5, 0.5], [0.9, 0.4], [0.6, 0.8]])["bwt"]   # 0.6 - 0.9 = -0.3
"""
from __future__ import annotations

import numpy as np


def sequence_metrics(matrix) -> dict:
    """ACC, BWT, FWT, forgetting and the per-step curve of a ``(T+1) x T`` accuracy matrix (row 0: initial)."""
    R = np.asarray(matrix, dtype=np.float64)
    t = R.shape[1]
    if R.shape != (t + 1, t):
        raise ValueError(f"an accuracy matrix of {t} tasks has {t + 1} rows (row 0: before training); got {R.shape}")
    out = {"average_accuracy": float(R[t].mean()),
           "average_accuracy_curve": [float(R[i, :i].mean()) for i in range(1, t + 1)]}
    if t < 2:
        return {**out, "bwt": None, "fwt": None, "forgetting": None, "forgetting_per_task": []}
    forgetting = [float(R[j + 1:t, j].max() - R[t, j]) for j in range(t - 1)]
    out.update(bwt=float(np.mean([R[t, j] - R[j + 1, j] for j in range(t - 1)])),
               fwt=float(np.mean([R[j, j] - R[0, j] for j in range(1, t)])),
               forgetting=float(np.mean(forgetting)), forgetting_per_task=forgetting)
    return out
