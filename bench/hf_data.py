"""A tuneforge encoded split as the Hugging Face Trainer takes it: a Dataset of single examples and a
collator that pads them (the Trainer's own way of batching), shared by bench/one.py and bench/hf_default.py."""
from __future__ import annotations

import numpy as np
import torch


class Examples(torch.utils.data.Dataset):
    """One example at a time from an encoded split (token ids or pixels, and ``targets``)."""

    def __init__(self, encoded):
        self.encoded = encoded

    def __len__(self):
        return len(self.encoded)

    def __getitem__(self, i):
        return {k: v[0] for k, v in self.encoded.batch(np.array([i])).items()}


def collator(encoded):
    """Pad token ids to the longest in the batch (or stack pixels); targets become ``labels``."""
    text = encoded.lengths is not None

    def collate(items):
        if text:
            n = max(len(it["input_ids"]) for it in items)
            ids = torch.full((len(items), n), encoded.pad_id, dtype=torch.long)
            mask = torch.zeros((len(items), n), dtype=torch.long)
            for i, it in enumerate(items):
                ids[i, :len(it["input_ids"])] = it["input_ids"]
                mask[i, :len(it["input_ids"])] = 1
            out = {"input_ids": ids, "attention_mask": mask}
        else:
            out = {"pixel_values": torch.stack([it["pixel_values"] for it in items])}
        out["labels"] = torch.stack([it["targets"] for it in items])
        return out

    return collate


@torch.no_grad()
def test_logits(net, encoded, collate, hf: bool = True, batch: int = 64) -> np.ndarray:
    """The network's logits on every example of an encoded split, batched by ``collate`` (the Trainer's way)."""
    net.eval()
    logits = []
    for start in range(0, len(encoded), batch):
        b = collate([{k: v[0] for k, v in encoded.batch(np.array([i])).items()}
                     for i in range(start, min(start + batch, len(encoded)))])
        b.pop("labels")
        out = net(**b) if hf else net(b["pixel_values"])
        logits.append((out.logits if hasattr(out, "logits") else out).float().numpy())
    return np.concatenate(logits)
