"""Linear probe (feature extraction): the pre-trained backbone is frozen, only the new head trains.

With the body frozen, the best head is the solution of a convex problem, so by default
(``warm_head: auto`` -> true) it is *solved*: fitted to its optimum on the frozen features by
L-BFGS (ridge regression in closed form), its L2 strength chosen on the validation split, and
no SGD step is taken (``optimizer.lr`` does not apply). It therefore matches the logistic
regression baseline on the same features. ``warm_head: false`` trains the head by SGD for the
step budget instead (the only way when the head cannot be solved exactly, e.g. a head with a
hidden layer between the features and its last linear layer; the plan says so).

Example recipe::

    strategy: {name: linear-probe}                    # solved
    strategy: {name: linear-probe, warm_head: false}  # trained by SGD at optimizer.lr
"""
from __future__ import annotations

from .base import STRATEGIES, Plan, Stage, Strategy
from .defaults import PROBE_SGD_LR


@STRATEGIES.register("linear-probe", "freeze the whole backbone; the new head is solved (L-BFGS), not stepped")
class LinearProbe(Strategy):
    name = "linear-probe"

    def defaults(self, ctx):
        out = super().defaults(ctx)
        if out["strategy.warm_head"][0]:
            out["optimizer.lr"] = (PROBE_SGD_LR, "does not apply: the head is solved, no SGD step is taken")
        else:
            out["optimizer.lr"] = (PROBE_SGD_LR, "default of linear-probe trained by SGD (head only)")
        out["optimizer.head_lr"] = (None, "the head is the only trained block: optimizer.lr")
        return out

    def plan(self, layer_map, steps_per_epoch, total_steps):
        if self.solves_head:
            return Plan([Stage("head solved", 0, trainable=[layer_map.head_index], solve_head=True)], max_steps=0)
        return Plan([Stage("head only", 0, trainable=[layer_map.head_index])])
