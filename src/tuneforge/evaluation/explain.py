"""Which parts of an input drove a prediction: occlusion over tokens (text) or image patches.

Occlusion asks the model the same question with one piece of the input hidden and
records how much the probability of the predicted class falls. Text: each real token in
turn is removed from attention (its ``attention_mask`` set to 0; special tokens such as
``[CLS]`` are kept). Images: each cell of a ``grid x grid`` partition is set to 0 in the
normalised pixels (the data set's mean colour). A large positive score means "this piece
supported the prediction". No gradients are needed, so any model works.

Example::

    ex = explain_examples(model, encoded_test, [0, 5], label_names, device="cpu")
    ex[0]["tokens"][:3]      # [{"token": "great", "score": 0.41}, ...]
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..data.modalities import MODALITIES
from .attribution import attribute_example

IMAGE_GRID = 7


@torch.no_grad()
def _probs(model, batch: dict) -> torch.Tensor:
    return torch.softmax(model(batch).float(), dim=-1)


def _text(model, batch: dict, target: int, special: set[int], tokens: list[str], chunk: int) -> list[dict]:
    ids, mask = batch["input_ids"], batch["attention_mask"]
    length = int(mask[0].sum())
    base = float(_probs(model, batch)[0, target])
    positions = [t for t in range(length) if int(ids[0, t]) not in special]
    scores = {}
    for start in range(0, len(positions), chunk):
        part = positions[start:start + chunk]
        masks = mask.repeat(len(part), 1)
        masks[torch.arange(len(part)), torch.tensor(part)] = 0
        occluded = {"input_ids": ids.repeat(len(part), 1), "attention_mask": masks}
        if "token_type_ids" in batch:   # a text pair keeps its segments
            occluded["token_type_ids"] = batch["token_type_ids"].repeat(len(part), 1)
        probs = _probs(model, occluded)[:, target]
        scores.update({t: base - float(p) for t, p in zip(part, probs)})
    return [{"token": tokens[t], "score": round(scores[t], 4)} for t in positions]


def _image(model, batch: dict, target: int, grid: int, chunk: int) -> list[list[float]]:
    pixels = batch["pixel_values"]
    h, w = pixels.shape[-2:]
    base = float(_probs(model, batch)[0, target])
    cells = [(r, c) for r in range(grid) for c in range(grid)]
    heat = np.zeros((grid, grid))
    for start in range(0, len(cells), chunk):
        part = cells[start:start + chunk]
        x = pixels.repeat(len(part), 1, 1, 1)
        for j, (r, c) in enumerate(part):
            x[j, :, r * h // grid:(r + 1) * h // grid, c * w // grid:(c + 1) * w // grid] = 0
        for (r, c), p in zip(part, _probs(model, {"pixel_values": x})[:, target]):
            heat[r, c] = base - float(p)
    return np.round(heat, 4).tolist()


def explain_examples(model, encoded, indices, label_names: Optional[list[str]], device="cpu",
                     grid: int = IMAGE_GRID, chunk: int = 64, attribution: bool = True) -> list[dict]:
    """Occlusion explanations of ``indices`` of an encoded split (classification models).

    Each entry: ``index``, ``label`` (true), ``predicted``, ``probability`` (of the
    predicted class) and either ``tokens`` (``[{token, score}]``) or ``heatmap``
    (``grid x grid`` scores) plus ``image`` (uint8 ``H x W x C`` as nested lists, small).
    With ``attribution``, also ``attribution``: the gradient view of the same prediction
    (integrated gradients over tokens, or Grad-CAM; see :mod:`.attribution`), where the model has one.
    """

    device = torch.device(device)
    names = label_names or [str(i) for i in range(model.num_outputs)]
    tokenizer = model.preprocessor if MODALITIES.get(model.modality).token_states else None
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    was_training = model.training
    model.eval()
    out = []
    try:
        for i in indices:
            batch = {k: v.to(device) for k, v in encoded.batch(np.array([i]), train=False).items()}
            target_true = int(batch.pop("targets")[0])
            probs = _probs(model, batch)[0]
            pred = int(probs.argmax())
            entry = {"index": int(i), "label": names[target_true], "predicted": names[pred],
                     "probability": round(float(probs[pred]), 4)}
            tokens = None
            if "input_ids" in batch:
                tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0].tolist())
                entry["tokens"] = _text(model, batch, pred, special, tokens, chunk)
            else:
                entry["heatmap"] = _image(model, batch, pred, grid, chunk)
                entry["image"] = encoded.pixels[int(i)].permute(1, 2, 0).numpy().astype(np.uint8).tolist()
            if attribution:
                found = attribute_example(model, batch, pred, tokens, frozenset(special))
                if found is not None:
                    entry["attribution"] = found
            out.append(entry)
    finally:
        model.train(was_training)
    return out


def pick_examples(n_examples: int, n: int) -> list[int]:
    """``n`` indices spread evenly over a split of ``n_examples`` (deterministic)."""
    if n <= 0 or n_examples == 0:
        return []
    return sorted(set(np.linspace(0, n_examples - 1, min(n, n_examples)).round().astype(int).tolist()))
