"""The report of a federated run (``metrics.json["federated"]``): rounds, clients, partition, traffic.

Two figures against the round: the global model's validation metric with each client's local
model beside it, and each client's training loss; then the partition (rows of each class per
client) and the bytes that travelled in each round.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .figures import new_figure, to_data_uri
from .html import grid, img, note, section, table


def federated(fed: Optional[dict], monitor: Optional[str]) -> str:
    if not fed:
        return ""
    rounds = fed.get("rounds", [])
    figs = grid(*(img(uri, caption) for uri, caption in (
        (_metric_curves(rounds, monitor), f"validation {monitor}: global model and each client's local model"),
        (_loss_curves(rounds), "training loss of each client")) if uri))
    counts = fed.get("class_counts") or []
    classes = list(counts[0]) if counts else []
    partition = table(["client", "rows"] + classes,
                      [[i, sum(c.values())] + [c[k] for k in classes] for i, c in enumerate(counts)])
    traffic = table(["round", "clients", "sent to clients (bytes)", "received (bytes)", f"global {monitor}"],
                    [[r["round"], len(r.get("clients", [])), r.get("bytes_to_clients", 0),
                      r.get("bytes_from_clients", 0), r.get("validation", {}).get(monitor)] for r in rounds])
    text = (f"{fed.get('clients')} clients, split {fed.get('split')} (label skew {fed.get('label_skew', 0):.2f}: mean "
            f"total-variation distance of a client's label mix from the pooled one), {fed.get('strategy')}"
            + (f" (mu {fed.get('mu'):g})" if fed.get("strategy") == "fedprox" else "")
            + f", {fed.get('clients_per_round')} clients per round. Only the {fed.get('travelling_parameters', 0):,} "
            f"trainable parameters of {fed.get('total_parameters', 0):,} travel; round 0 is the starting model.")
    return section("Federated rounds", note(text), figs, partition, traffic, anchor="federated")


def _metric_curves(rounds: list[dict], monitor: Optional[str]) -> Optional[str]:
    if not rounds or not monitor:
        return None
    fig = new_figure()
    ax = fig.add_subplot()
    ax.plot([r["round"] for r in rounds], [r.get("validation", {}).get(monitor, np.nan) for r in rounds], "o-",
            color="black", linewidth=2, label="global")
    for client, points in sorted(_per_client(rounds, "val_metric").items()):
        ax.plot(*zip(*points), ".--", alpha=0.7, label=f"client {client}")
    ax.set_xlabel("round")
    ax.set_ylabel(f"validation {monitor}")
    ax.legend(fontsize=7)
    return to_data_uri(fig)


def _loss_curves(rounds: list[dict]) -> Optional[str]:
    per_client = _per_client(rounds, "train_loss")
    if not per_client:
        return None
    fig = new_figure()
    ax = fig.add_subplot()
    for client, points in sorted(per_client.items()):
        ax.plot(*zip(*points), "o-", label=f"client {client}")
    ax.set_xlabel("round")
    ax.set_ylabel("local training loss")
    ax.legend(fontsize=7)
    return to_data_uri(fig)


def _per_client(rounds: list[dict], key: str) -> dict[int, list[tuple[int, float]]]:
    out: dict[int, list[tuple[int, float]]] = {}
    for r in rounds:
        for c in r.get("clients", []):
            if c.get(key) is not None:
                out.setdefault(c["client"], []).append((r["round"], c[key]))
    return out
