"""FedAvg of identical clients equals centralised training, and only trainable parameters travel.

In-process (no simulation engine): each client's round is :func:`train_round`, the function the
Flower ClientApp runs; their replies are aggregated by Flower's own ``FedAvg.aggregate_train``.
"""
import numpy as np
import pytest
import torch
from flwr.app import ConfigRecord, Message, MessageType, Metadata, RecordDict
from flwr.serverapp.strategy import FedAvg
from rich.console import Console

from runs.conftest import text_recipe
from tuneforge.federated.check import client_recipe
from tuneforge.federated.client import ClientSetup, local_run, own_names, train_round
from tuneforge.federated.options import FederatedOptions
from tuneforge.federated.params import to_record
from tuneforge.recipe import load_recipe
from tuneforge.regularisers.proximal import ProximalTerm
from tuneforge.runs.pipeline import prepare
from tuneforge.training import build_trainer


def _setup(bert_dir, text_csv, tmp_path, clients=3, **over):
    recipe = load_recipe(text_recipe(bert_dir, text_csv, tmp_path, **{"strategy.name": "lora", "train.epochs": 1,
                                                                       "evaluate.baseline": False,
                                                                       "data.max_train_samples": 64, **over}))
    options = FederatedOptions(clients=clients, rounds=1, local_epochs=2)
    return ClientSetup(client_recipe(recipe, options).model_dump(mode="json"), options.to_dict())


def _reply(record, metrics):
    meta = Metadata(run_id=1, message_id="", src_node_id=1, dst_node_id=0, reply_to_message_id="", group_id="1",
                    created_at=0.0, ttl=60.0, message_type=MessageType.TRAIN)
    return Message(content=RecordDict({"arrays": record, "metrics": metrics}), metadata=meta)


def test_fedavg_of_identical_clients_equals_one_client_equals_centralised(bert_dir, text_csv, tmp_path):
    setup = _setup(bert_dir, text_csv, tmp_path, clients=3)
    run = local_run(setup)
    everything = np.arange(len(run.p.data.train.targets))
    run.parts = [everything] * 3                        # identical clients: the same rows, the same seed
    names = own_names(run)
    start = to_record(run.p.model, names)
    replies = [_reply(*train_round(setup, pid, start, ConfigRecord({"server-round": 1}))) for pid in range(3)]
    aggregated, _ = FedAvg().aggregate_train(1, replies)

    # only the strategy's trainable parameters travel: LoRA adapters and the new head, nothing frozen
    sent = list(replies[0].content["arrays"].keys())
    assert sent == names and all("lora_" in n or "classifier" in n for n in sent)
    frozen = [n for n, _ in run.p.model.net.named_parameters() if n not in set(names)]
    assert frozen and not any(n in sent for n in frozen)

    # centralised: the same recipe on the pooled rows, one Trainer, from the same starting model
    p = prepare(load_recipe(setup.recipe), Console(quiet=True))
    build_trainer(p.model, p.task, p.recipe, p.strategy, p.encoded["train"]).fit()
    central = dict(p.model.net.named_parameters())
    one_client = replies[0].content["arrays"]
    moved = 0.0
    for n in names:
        want = central[n].detach().numpy()
        np.testing.assert_allclose(aggregated[n].numpy(), want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(one_client[n].numpy(), want, rtol=1e-5, atol=1e-6)
        moved += float(np.abs(want - start[n].numpy()).sum())
    assert moved > 0  # training changed them: the equality is not that of untouched parameters


def test_a_client_refuses_parameters_that_are_not_its_trainable_set(bert_dir, text_csv, tmp_path):
    setup = _setup(bert_dir, text_csv, tmp_path, clients=2)
    run = local_run(setup)
    names = own_names(run)
    wrong = to_record(run.p.model, names[:-1])
    with pytest.raises(Exception, match="do not match this client's trainable set"):
        train_round(setup, 0, wrong, ConfigRecord({"server-round": 1}))
    with pytest.raises(Exception, match="frozen parameters differ"):
        train_round(setup, 0, to_record(run.p.model, names), ConfigRecord({"server-round": 1,
                                                                            "frozen-digest": "not-the-same"}))


def test_the_proximal_term_is_mu_over_two_times_the_squared_distance_to_the_global_values(bert_dir, text_csv,
                                                                                        tmp_path):
    run = local_run(_setup(bert_dir, text_csv, tmp_path, clients=2))
    model = run.p.model
    names = [n for n, _ in model.net.named_parameters() if "lora_" in n][:2]
    prox = ProximalTerm(0.3, names)
    prox.setup(model)
    params = dict(model.net.named_parameters())
    with torch.no_grad():
        params[names[0]].add_(0.5)
    want = 0.3 / 2 * (0.5 ** 2) * params[names[0]].numel()
    assert prox.penalty(model, {}, torch.zeros(1)).item() == pytest.approx(want, rel=1e-5)
    with torch.no_grad():
        params[names[0]].sub_(0.5)
