"""A causal-lm LoRA run killed (SIGKILL) mid-epoch and resumed with ``tuneforge run --resume`` ends with the
same merged weights, adapter, test perplexity and history as a run that was never interrupted."""
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from tuneforge.cli import main

from reliability.conftest import cli_process, final_weights, history, metrics, only_run, write_recipe

WORDS = "water fire tree road book river car horse ship bird dog song".split()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from helpers.tiny_lm import tiny_causal_lm
    root = tmp_path_factory.mktemp("clm-resume")
    csv = root / "pairs.csv"
    pd.DataFrame([{"prompt": f"the {w} is", "response": f"good {w}"} for w in WORDS] * 4).to_csv(csv, index=False)
    return tiny_causal_lm(root / "llama"), csv


def _recipe(llama, csv, out) -> dict:
    return {"task": "causal-lm", "model": {"name": str(llama)},
            "data": {"train": str(csv), "prompt_column": "prompt", "response_column": "response",
                     "validation": 0.2, "test": 0.2, "max_length": 16, "clean": {"drop_duplicates": False}},
            "strategy": {"name": "lora", "r": 4, "dropout": 0.1}, "optimizer": {"lr": 1e-2},
            "train": {"epochs": 2, "batch_size": 8, "seed": 5, "save_every_steps": 2, "restore_best": False},
            "generate": {"max_new_tokens": 2, "samples": 2},
            "evaluate": {"bootstrap": 50, "report": False}, "output": {"dir": str(out)}}


def test_killed_causal_lm_run_resumes_to_the_uninterrupted_result(setup, tmp_path):
    llama, csv = setup
    ref_recipe = write_recipe(tmp_path / "ref.yaml", _recipe(llama, csv, tmp_path / "ref"))
    assert main(["run", str(ref_recipe), "--quiet"]) == 0
    reference = only_run(tmp_path / "ref")

    recipe = write_recipe(tmp_path / "killed.yaml", _recipe(llama, csv, tmp_path / "killed"))
    killed = cli_process(["run", recipe, "--quiet"], {"TUNEFORGE_FAULT": "step:3"})   # last checkpoint: step 2
    assert killed.returncode == -9, killed.stderr[-2000:]
    run = only_run(tmp_path / "killed")
    assert not (run / "metrics.json").exists()
    assert main(["run", "--resume", str(run), "--quiet"]) == 0

    ours, theirs = final_weights(run), final_weights(reference)
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    a, b = (load_file(str(r / "adapter" / "adapter_model.safetensors")) for r in (run, reference))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert metrics(run)["test"] == metrics(reference)["test"]
    assert metrics(run)["baseline"]["perplexity"] == metrics(reference)["baseline"]["perplexity"]
    assert history(run) == history(reference)
