"""One end-to-end federated run on Flower's simulation engine (Ray), through the command line.

The only test here that starts the engine: Ray's start-up and each client process building
its model make it take ~60 s on a loaded 2-core machine (~25 s idle), so everything the
simulation adds is asserted on this one run.
"""
import json

import numpy as np
import yaml

from runs.conftest import text_recipe
from tuneforge.cli import main


def test_federate_runs_rounds_and_saves_the_global_model_like_any_run(bert_dir, text_csv, tmp_path):
    from transformers import AutoModelForSequenceClassification

    recipe = text_recipe(bert_dir, text_csv, tmp_path / "runs", **{
        "strategy.name": "lora", "data.max_train_samples": 96, "evaluate.bootstrap": 50, "evaluate.explain": 0})
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    rc = main(["federate", str(path), "--clients", "2", "--rounds", "2", "--split", "dirichlet:1.0",
               "--strategy", "fedprox", "--mu", "0.1", "--quiet"])
    assert rc == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    fed = metrics["federated"]
    assert [r["round"] for r in fed["rounds"]] == [0, 1, 2]
    assert sum(fed["rows_per_client"]) == metrics["data"]["sizes"]["train"]
    names = fed["travelling_tensors"]
    assert names and all("lora_" in n or "classifier" in n for n in names)
    for r in fed["rounds"][1:]:
        assert [c["client"] for c in r["clients"]] == [0, 1]
        assert all(np.isfinite(c["train_loss"]) and 0 <= c["val_metric"] <= 1 for c in r["clients"])
        # what the strategy received from every client: exactly the trainable tensors, nothing frozen
        assert all(list(received) == names for received in r["received"])
        assert r["bytes_to_clients"] == r["bytes_from_clients"] > 4 * fed["travelling_parameters"] * 2
        assert 0 <= r["validation"]["macro_f1"] <= 1
    assert fed["bytes_total"] == sum(r["bytes_to_clients"] + r["bytes_from_clients"] for r in fed["rounds"])
    assert fed["travelling_parameters"] < fed["total_parameters"] / 5
    # the final global model: tested with bootstrap intervals beside the frozen probe, saved, loadable
    assert "macro_f1" in metrics["test"] and len(metrics["test_ci"]["macro_f1"]) == 2
    assert "macro_f1" in metrics["baseline"]
    model = AutoModelForSequenceClassification.from_pretrained(run_dir / "model")
    assert not any("lora_" in n for n, _ in model.named_parameters())  # adapters merged, as in any LoRA run
    assert len((run_dir / "history.jsonl").read_text().splitlines()) == 3
    assert "Federated rounds" in (run_dir / "report.html").read_text()
    assert json.loads((run_dir / "status.json").read_text())["state"] == "completed"
