"""FedProx's proximal term (Li et al., MLSys 2020): ``mu/2 * ||w - w_global||^2``.

A federated client adds it to its loss in every round so that its local training does not
drift far from the global parameters it started from (the server's FedProx strategy sends
``mu``; see :mod:`tuneforge.federated.client`). Only parameters that train count. It is not
registered for recipes: outside a federated round there is no global model to stay near
(``l2-sp`` is the recipe regulariser that anchors to the pre-trained weights).
"""
from __future__ import annotations

from .anchors import on_device, snapshot, weighted_distance
from .base import Regulariser, RegulariserOptions


class ProximalTerm(Regulariser):
    name = "fedprox"

    def __init__(self, mu: float, names: list[str]):
        super().__init__(RegulariserOptions(weight=mu / 2.0))
        self.names = list(names)  # the parameters that travel

    def setup(self, model, context=None) -> None:
        """Snapshot the travelling parameters as they are now: the round's global values."""
        self.anchors = snapshot(model, self.names)

    def penalty(self, model, batch, outputs):
        self.anchors = on_device(self.anchors, outputs)
        return self.options.weight * weighted_distance(model, self.anchors)
