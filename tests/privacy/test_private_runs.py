"""Private runs end to end on the tiny BERT with linear-probe, freeze and LoRA: only the strategy's
parameters move, metrics.json carries the accountant's epsilon, and the report and the terminal
summary show the budget and say that the frozen-probe baseline is not private."""
import json

import pytest
import torch
from rich.console import Console
from transformers import BertModel

import tuneforge
from tuneforge.runs.summary import print_summary

from runs.conftest import text_recipe


def body_changes(bert_dir, net) -> set[str]:
    """Names (BertModel's) of the pre-trained tensors the run changed."""
    before = BertModel.from_pretrained(bert_dir).state_dict()
    after = {k.removeprefix("bert."): v for k, v in net.state_dict().items() if k.startswith("bert.")}
    return {k for k in before if k in after and not torch.equal(before[k], after[k])}


@pytest.mark.parametrize("strategy, changes", [
    ("linear-probe", lambda names: all(n.startswith("pooler.") for n in names)),  # BERT's head block: pooler
    ("freeze", lambda names: names and all(n.startswith(("encoder.layer.1.", "pooler")) for n in names)),
    ("lora", lambda names: names and all(".attention.self." in n for n in names)),
])
def test_private_run_trains_only_its_strategys_parameters(bert_dir, text_csv, tmp_path, strategy, changes):
    report = strategy == "linear-probe"
    r = text_recipe(bert_dir, text_csv, tmp_path, privacy={"epsilon": 8.0, "accountant": "rdp"},
                    **{"strategy.name": strategy, "train.epochs": 1, "evaluate.bootstrap": 0,
                       "evaluate.explain": 0, "evaluate.report": report, "evaluate.baseline": report,
                       "output.save_model": False})
    result = tuneforge.finetune(r, quiet=True)
    m = result.metrics
    p = m["privacy"]
    assert p["steps"] == m["train"]["steps"] == p["planned_steps"] > 0
    assert p["epsilon"] == pytest.approx(8.0, abs=0.1) and p["delta"] == pytest.approx(1 / (10 * 144))
    assert json.loads((result.run_dir / "metrics.json").read_text())["privacy"]["epsilon"] == p["epsilon"]
    assert changes(body_changes(bert_dir, result.model.net)), sorted(body_changes(bert_dir, result.model.net))
    if report:
        html = (result.run_dir / "report.html").read_text()
        assert "Differential privacy" in html and "without privacy" in html
        console = Console(record=True, width=200)
        print_summary(console, m)
        text = console.export_text()
        assert "linear probe, not private" in text and "epsilon 8" in text
