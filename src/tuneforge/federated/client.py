"""One federated client: the normal tuneforge training of its own rows, starting from the global model.

Each client process builds the run once (:func:`local_run`: the recipe's data, model and
strategy through the pipeline's ``prepare``, exactly as the server does), takes its share of
the training rows (the same seeded :func:`~.split.partition` the server computes), and in
every round:

1. loads the global trainable parameters it received (names and shapes checked),
2. trains them with the :class:`~tuneforge.training.Trainer` for the local epochs (or steps),
   plus FedProx's proximal term when the server sent ``proximal-mu`` > 0,
3. replies with its trainable parameters only, its row count (FedAvg's weight), its training
   loss and its local model's validation metric.

The Flower ``ClientApp`` :data:`client_app` wraps :func:`train_round`; the simulation and real
SuperNodes run the same object (see :mod:`.apps`).
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from rich.console import Console

from ..errors import TrainingError
from ..privacy import engine_for
from ..recipe import Recipe
from ..regularisers import build_regularisers
from ..regularisers.proximal import ProximalTerm
from ..strategies import Strategy
from .options import FederatedOptions
from .params import frozen_digest, load_record, ordered, to_record, trainable_by_stage
from .split import partition
from ..training.evaluator import SplitEvaluator
from ..runs.pipeline import prepare
from ..training import build_trainer


@dataclass(frozen=True)
class ClientSetup:
    """What every client needs to rebuild the run: the client recipe (JSON-ready) and the options.

    ``own_data``: the node trains on all rows of its own ``data.train`` (a real deployment's
    ``--node-config 'data-train="..."'``) instead of its share of the recipe's.
    """

    recipe: dict
    options: dict
    own_data: bool = False

    def key(self) -> str:
        return json.dumps([self.recipe, self.options, self.own_data], sort_keys=True, default=str)

    @classmethod
    def from_message(cls, config: ConfigRecord, node_config) -> "ClientSetup":
        """The setup the server sent (``recipe``, ``options`` as JSON), with this node's own data if it has some."""
        recipe, options = json.loads(str(config["recipe"])), json.loads(str(config["options"]))
        own = node_config.get("data-train")
        if own:
            recipe["data"]["train"] = str(own)
        elif "num-partitions" in node_config and int(node_config["num-partitions"]) != int(options["clients"]):
            raise TrainingError(f"this node was started with num-partitions={node_config['num-partitions']}, but "
                                f"the run has {options['clients']} clients")
        return cls(recipe, options, bool(own))


@dataclass
class LocalRun:
    """A client process's prepared run (data, model, evaluator), built once and reused every round."""

    p: object
    recipe: Recipe
    options: FederatedOptions
    parts: list[np.ndarray]
    val_eval: object
    regularisers: list
    names: Optional[list[str]] = None   # the travelling parameters (see :func:`own_names`)
    digest: Optional[str] = None        # hash of everything else
    encoded: dict = field(default_factory=dict)  # partition id -> encoded training rows

    def train_rows(self, pid: int):
        if pid not in self.encoded:
            p, seed = self.p, self.recipe.train.seed
            rows = p.data.train.subset(self.parts[pid])
            self.encoded[pid] = p.task.encode_split(rows, p.model, self.recipe.data, "train", seed)
        return self.encoded[pid]


_RUNS: dict[str, LocalRun] = {}  # one per process and setup (a simulation actor serves several clients)
_LOCK = threading.Lock()


def local_run(setup: ClientSetup) -> LocalRun:
    """This process's :class:`LocalRun` for ``setup`` (built on first use)."""

    key = setup.key()
    with _LOCK:
        if key not in _RUNS:
            recipe = Recipe.model_validate(setup.recipe)
            options = FederatedOptions(**setup.options)
            p = prepare(recipe, Console(quiet=True))
            n = len(p.data.train.targets)
            parts = [np.arange(n)] * options.clients if setup.own_data else \
                partition(p.data.train.targets, options.clients, options.split, recipe.train.seed)
            val = SplitEvaluator(p.task, p.encoded["validation"], p.data.validation.targets, p.data.label_names,
                                 recipe.evaluate.batch_size, "fp32", _device())
            regs = build_regularisers(recipe.regularisers)
            for reg in regs:  # anchored to the pre-trained model, once, before any global parameters arrive
                reg.setup(p.model, p)
            _RUNS[key] = LocalRun(p, recipe, options, parts, val, regs)
        return _RUNS[key]


def _device():
    import torch
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def round_trainer(run: LocalRun, pid: int, server_round: int, mu: float = 0.0, names: Optional[list[str]] = None):
    """The Trainer of one client in one round (a fresh optimizer each round, as in FedAvg).

    The seed moves with the round (``train.seed + round - 1``) so that rounds see different batch
    orders; it does not depend on the client, so identical clients train identically.
    """

    recipe = run.recipe
    train = recipe.train.model_copy(update={"seed": recipe.train.seed + server_round - 1})
    recipe = recipe.model_copy(update={"train": train})
    regs = list(run.regularisers)
    if mu > 0:
        prox = ProximalTerm(mu, names or [])
        prox.setup(run.p.model)
        regs.append(prox)
    return build_trainer(run.p.model, run.p.task, recipe, Strategy.from_section(recipe.strategy),
                         run.train_rows(pid), engine=engine_for(recipe), regularisers=regs)


def own_names(run: LocalRun) -> list[str]:
    """The parameters this client's strategy trains (its single stage), in model order; what travels."""
    if run.names is None:
        run.names = ordered(run.p.model, trainable_by_stage(round_trainer(run, 0, 1))[0])
        run.digest = frozen_digest(run.p.model, set(run.names))
    return run.names


def train_round(setup: ClientSetup, pid: int, arrays: ArrayRecord, config: ConfigRecord) -> tuple[ArrayRecord, MetricRecord]:
    """One client's round: global parameters in, locally trained parameters and metrics out."""
    run = local_run(setup)
    p = run.p
    names = own_names(run)
    if "frozen-digest" in config and config["frozen-digest"] != run.digest:
        raise TrainingError(f"client {pid}: its frozen parameters differ from the server's (another model or "
                            "model version on this machine?); every client must start from the same pre-trained "
                            "weights")
    load_record(p.model, arrays, names)  # checks names and shapes; the round's trainer starts from these values
    trainer = round_trainer(run, pid, int(config.get("server-round", 1)), float(config.get("proximal-mu", 0.0)),
                            names)
    state = trainer.fit()
    metric = p.recipe.evaluate.metric or p.task.default_metric()
    val = run.val_eval(p.model).get(metric)
    metrics = {"num-examples": len(run.parts[pid]), "partition-id": pid, "train-loss": float(trainer.last_loss),
               "steps": state.step}
    if isinstance(val, (int, float)):
        metrics["val-metric"] = float(val)
    return to_record(p.model, names), MetricRecord(metrics)


client_app = ClientApp()
"""The Flower ClientApp (``tuneforge.federated.client:client_app``): the simulation's clients and real
SuperNodes run this same object; everything it needs arrives in the server's messages."""


@client_app.train()
def _train(msg: Message, context: Context) -> Message:
    config = msg.content["config"]
    setup = ClientSetup.from_message(config, context.node_config)
    pid = int(context.node_config.get("partition-id", 0))
    arrays, metrics = train_round(setup, pid, msg.content["arrays"], config)
    return Message(content=RecordDict({"arrays": arrays, "metrics": metrics}), reply_to=msg)
