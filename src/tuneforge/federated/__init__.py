"""Federated fine-tuning with Flower: K clients each train the recipe's trainable parameters on their
own share of the data; Flower's FedAvg / FedProx combines them (docs/federated.md).

The package modules import Flower; import them only when a federated run is asked for.
"""
