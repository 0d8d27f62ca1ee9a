"""The Flower apps for a real deployment: ``tuneforge.federated.apps:server_app`` and ``:client_app``.

The simulation (``tuneforge federate``) runs the very same client app; here the clients are
SuperNodes on other machines and the server app is started by ``flwr run`` on a SuperLink
(docs/federated.md shows the ``pyproject.toml`` of such a Flower app). The server reads its
settings from the run config::

    recipe = "recipes/demo.yaml"   # a path on the machine that runs the ServerApp
    clients = 4                    # SuperNodes the run waits for (each started with partition-id)
    rounds = 5
    split = "dirichlet:0.5"        # how the recipe's rows are dealt out (ignored by nodes with own data)
    local-epochs = 1
    local-steps = 0                # 0: use local-epochs
    strategy = "fedavg"            # or fedprox (with mu)
    mu = 0.01
    fraction = 1.0

Every client rebuilds the run from the recipe the server sends in each round; a node started with
``--node-config 'data-train="/data/mine.csv"'`` trains on all rows of its own file instead of its
share of the recipe's.
"""
from __future__ import annotations

from flwr.serverapp import Grid, ServerApp
from flwr.app import Context

from .client import client_app
from .options import FederatedOptions
from ..recipe import load_recipe
from .run import federate

__all__ = ["server_app", "client_app", "options_from_run_config"]

server_app = ServerApp()


def options_from_run_config(run_config) -> FederatedOptions:
    """:class:`FederatedOptions` from a Flower run config (hyphenated keys, ``local-steps = 0`` = unset)."""
    defaults = FederatedOptions()
    steps = int(run_config.get("local-steps", 0))
    return FederatedOptions(clients=int(run_config.get("clients", defaults.clients)),
                            rounds=int(run_config.get("rounds", defaults.rounds)),
                            split=str(run_config.get("split", defaults.split)),
                            local_epochs=int(run_config.get("local-epochs", defaults.local_epochs)),
                            local_steps=steps or None,
                            strategy=str(run_config.get("strategy", defaults.strategy)),
                            mu=float(run_config.get("mu", defaults.mu)),
                            fraction=float(run_config.get("fraction", defaults.fraction)))


@server_app.main()
def _main(grid: Grid, context: Context) -> None:

    federate(load_recipe(str(context.run_config["recipe"])), options_from_run_config(context.run_config),
             grid=grid, context=context)
