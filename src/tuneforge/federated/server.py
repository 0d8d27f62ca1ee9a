"""The server side: Flower's FedAvg / FedProx, recording what travels, and the global evaluation.

The aggregation is Flower's own (``flwr.serverapp.strategy.FedAvg`` / ``FedProx``: weighted by
each client's row count). :class:`Recording` only watches: per round, the bytes sent to and
received from clients, the names and shapes of the arrays every client sent back, and each
client's metrics; a client that failed stops the run with its error instead of being averaged
out silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg, FedProx

from ..errors import TrainingError
from .options import FederatedOptions


class Recording:
    """Mixin for a Flower strategy: keeps ``self.rounds[r]`` = what round ``r`` sent and received."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rounds: dict[int, dict] = {}

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid):
        messages = list(super().configure_train(server_round, arrays, config, grid))
        self.rounds[server_round] = {"round": server_round, "clients_sampled": len(messages),
                                     "bytes_to_clients": sum(m.content["arrays"].count_bytes() for m in messages)}
        return messages

    def aggregate_train(self, server_round: int, replies: Iterable[Message]):
        replies = list(replies)
        failed = [m.error.reason for m in replies if m.has_error()]
        if failed:
            raise TrainingError(f"round {server_round}: {len(failed)} client(s) failed: {failed[0]}")
        rec = self.rounds.setdefault(server_round, {"round": server_round})
        rec["bytes_from_clients"] = sum(m.content["arrays"].count_bytes() for m in replies)
        rec["received"] = [{n: list(a.shape) for n, a in m.content["arrays"].items()} for m in replies]
        rec["clients"] = sorted((_client_row(m.content["metrics"]) for m in replies), key=lambda r: r["client"])
        return super().aggregate_train(server_round, replies)


def _client_row(metrics: MetricRecord) -> dict:
    row = {"client": int(metrics["partition-id"]), "examples": int(metrics["num-examples"]),
           "train_loss": float(metrics["train-loss"]), "steps": int(metrics["steps"])}
    if "val-metric" in metrics:
        row["val_metric"] = float(metrics["val-metric"])
    return row


class RecordingFedAvg(Recording, FedAvg):
    """Flower's FedAvg, recorded."""


class RecordingFedProx(Recording, FedProx):
    """Flower's FedProx (sends ``proximal-mu``; the clients add the term), recorded."""


def build_strategy(options: FederatedOptions) -> Recording:
    per_round = options.clients_per_round
    common = dict(fraction_train=options.fraction, fraction_evaluate=0.0, min_train_nodes=per_round,
                  min_evaluate_nodes=0, min_available_nodes=options.clients)
    if options.strategy == "fedprox":
        return RecordingFedProx(proximal_mu=options.mu, **common)
    return RecordingFedAvg(**common)


@dataclass
class ServerRun:
    """What the server app needs and what it leaves behind for the run folder."""

    options: FederatedOptions
    initial: ArrayRecord
    config: dict                                    # sent to clients every round (e.g. frozen-digest)
    evaluate: Callable[[int, ArrayRecord], dict]    # (round, global parameters) -> validation metrics
    strategy: Optional[Recording] = None
    global_metrics: dict[int, dict] = field(default_factory=dict)  # round (0 = start) -> validation metrics
    final: Optional[ArrayRecord] = None

    def evaluate_fn(self, server_round: int, arrays: ArrayRecord) -> MetricRecord:
        metrics = self.evaluate(server_round, arrays)
        self.global_metrics[server_round] = metrics
        return MetricRecord({k: float(v) for k, v in metrics.items() if _scalar(v)})

    def main(self, grid: Grid, context: Context) -> None:
        self.strategy = build_strategy(self.options)
        result = self.strategy.start(grid=grid, initial_arrays=self.initial, num_rounds=self.options.rounds,
                                     train_config=ConfigRecord(dict(self.config)), evaluate_fn=self.evaluate_fn)
        self.final = result.arrays if result.arrays is not None else self.initial


def _scalar(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def make_server_app(run: ServerRun) -> ServerApp:
    app = ServerApp()

    @app.main()
    def _main(grid: Grid, context: Context) -> None:
        run.main(grid, context)

    return app
