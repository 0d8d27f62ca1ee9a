"""Learning-rate scales that fall from the head towards the input (discriminative learning rates).

Two ways to say how fast they fall, both as multipliers of ``optimizer.lr``:

- ``decay_scales(n, decay)``: the head gets 1, the block ``d`` steps below it ``decay ** d``
  (layer-wise learning-rate decay, as in BEiT/ELECTRA fine-tuning and timm's
  ``param_groups_layer_decay``);
- ``range_scales(n, low, high)``: a geometric spread from ``low`` (the lowest block) to
  ``high`` (the head), as fastai's ``slice(low, high)``.

Example::

    decay_scales(4, 0.5)          # {0: 0.125, 1: 0.25, 2: 0.5, 3: 1.0}
    range_scales(3, 0.01, 1.0)    # {0: 0.01, 1: 0.1, 2: 1.0}
"""
from __future__ import annotations


def decay_scales(n_blocks: int, decay: float) -> dict[int, float]:
    """Block index -> ``decay ** depth``, depth counted from the head (index ``n_blocks - 1``)."""
    head = n_blocks - 1
    return {i: float(decay ** (head - i)) for i in range(n_blocks)}


def range_scales(n_blocks: int, low: float, high: float) -> dict[int, float]:
    """Block index -> geometric interpolation from ``low`` (block 0) to ``high`` (the head)."""
    head = n_blocks - 1
    if head == 0:
        return {0: float(high)}
    ratio = high / low
    return {i: float(low * ratio ** (i / head)) for i in range(n_blocks)}
