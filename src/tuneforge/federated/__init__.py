"""Federated fine-tuning with Flower: K clients each train the recipe's trainable parameters on their
own share of the data; Flower's FedAvg / FedProx combines them (docs/federated.md).

The package modules import Flower; import them only when a federated run is asked for. Without
the ``federated`` extra, importing any of them ends in one message naming its pip line.
"""
import os

from ..extras import require_extra

require_extra("federated", "tuneforge federate")

os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")   # Flower reads it at import: no usage reports leave here
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # (Ray's future-default notice, silenced)
