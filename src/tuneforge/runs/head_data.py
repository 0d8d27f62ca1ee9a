"""The head solver's inputs: frozen features (or the head's captured inputs) and targets, train and validation."""
from __future__ import annotations

import numpy as np

from ..evaluation import extract_features
from ..head.start import HeadData, head_inputs
from ..models.precision import autocast_dtype


def head_data(p, shared: bool, precision: str, device):
    """The head's inputs and targets on train and validation for the head solver.

    ``shared``: the model's features are exactly the head's inputs, so the baseline's cached
    features serve (extracted here when the baseline did not run); otherwise the head's
    inputs are captured with a hook.
    """
    bs, dtype = p.recipe.evaluate.batch_size, autocast_dtype(precision)
    out = {}
    for split in ("train", "validation"):
        if split not in p.encoded:
            continue
        if shared:
            if split not in p.features:
                p.features[split], _ = extract_features(p.model, p.encoded[split], bs, device, dtype)
            x = p.features[split]
        else:
            x, _ = head_inputs(p.model, p.encoded[split], bs, device)
        y = p.encoded["train"].targets if split == "train" else getattr(p.data, split).targets
        if split != "train" and p.scaler is not None:
            y = p.scaler.transform(np.asarray(y))
        out[split] = (x, np.asarray(y))
    return HeadData(out["train"], out.get("validation"))
