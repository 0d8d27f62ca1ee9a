"""L2-SP (Li et al., ICML 2018): weight decay towards the pre-trained weights, not towards zero.

``penalty = weight * sum ||w - w0||^2`` over the pre-trained parameters that train (the new
head is not included: it has no starting point worth keeping). Plain weight decay pulls
the features towards zero, forgetting what pre-training learnt; L2-SP pulls them back to
where they started.

In a continual sequence (docs/continual.md) the anchors stay the *original* pre-trained
weights at every step, not the previous step's.

Example recipe::

    regularisers: [{name: l2-sp, weight: 0.01}]
"""
from __future__ import annotations

from .anchors import anchored_names, on_device, snapshot, weighted_distance
from .base import REGULARISERS, Regulariser


@REGULARISERS.register("l2-sp", "penalise the squared distance of trained weights from the pre-trained ones")
class L2SP(Regulariser):
    name = "l2-sp"

    def setup(self, model, context=None) -> None:
        step = getattr(context, "continual", None)
        names = anchored_names(model)
        self.anchors = {n: step.pretrained[n] for n in names} if step is not None else snapshot(model, names)

    def penalty(self, model, batch, outputs):
        self.anchors = on_device(self.anchors, outputs)
        return self.options.weight * weighted_distance(model, self.anchors)
