"""A causal-lm prompt-tuning / prefix-tuning run killed (SIGKILL) mid-epoch and resumed ends with the same
virtual tokens, test perplexity and history as a run that was never interrupted: the prompt encoder's
parameters are in the checkpoints and restored."""
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from tuneforge.cli import main

from reliability.conftest import cli_process, history, metrics, only_run, write_recipe

WORDS = "water fire tree road book river car horse ship bird dog song".split()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from helpers.tiny_lm import tiny_causal_lm
    root = tmp_path_factory.mktemp("prompt-resume")
    csv = root / "pairs.csv"
    pd.DataFrame([{"prompt": f"the {w} is", "response": f"good {w}"} for w in WORDS] * 4).to_csv(csv, index=False)
    return tiny_causal_lm(root / "llama"), csv


def _recipe(llama, csv, out, strategy) -> dict:
    return {"task": "causal-lm", "model": {"name": str(llama)},
            "data": {"train": str(csv), "prompt_column": "prompt", "response_column": "response",
                     "validation": 0.2, "test": 0.2, "max_length": 16, "clean": {"drop_duplicates": False}},
            "strategy": strategy,
            "train": {"epochs": 2, "batch_size": 8, "seed": 5, "save_every_steps": 2, "restore_best": False},
            "generate": {"max_new_tokens": 2, "samples": 1},
            "evaluate": {"bootstrap": 20, "report": False}, "output": {"dir": str(out)}}


@pytest.mark.parametrize("strategy", [{"name": "prompt-tuning", "num_virtual_tokens": 3},
                                      {"name": "prefix-tuning", "num_virtual_tokens": 3, "prefix_projection": True,
                                       "encoder_hidden_size": 8}], ids=lambda s: s["name"])
def test_killed_prompt_learning_run_resumes_to_the_uninterrupted_result(setup, tmp_path, strategy):
    llama, csv = setup
    ref_recipe = write_recipe(tmp_path / "ref.yaml", _recipe(llama, csv, tmp_path / "ref", strategy))
    assert main(["run", str(ref_recipe), "--quiet"]) == 0
    reference = only_run(tmp_path / "ref")

    recipe = write_recipe(tmp_path / "killed.yaml", _recipe(llama, csv, tmp_path / "killed", strategy))
    killed = cli_process(["run", recipe, "--quiet"], {"TUNEFORGE_FAULT": "step:3"})   # last checkpoint: step 2
    assert killed.returncode == -9, killed.stderr[-2000:]
    run = only_run(tmp_path / "killed")
    checkpoint = load_file(str(next((run / "checkpoints").glob("step-*")) / "model.safetensors"))
    assert any(k.startswith("prompt_encoder.") for k in checkpoint)
    assert main(["run", "--resume", str(run), "--quiet"]) == 0

    a, b = (load_file(str(r / "adapter" / "adapter_model.safetensors")) for r in (run, reference))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert metrics(run)["test"] == metrics(reference)["test"]
    assert history(run) == history(reference)
