"""`tuneforge export RUN --check` beyond sequence classification, and what `--sentence-transformers` refuses.

Token classification (per-word outputs the run recorded padded with NaN; the folder through
AutoModelForTokenClassification) and a causal LM with LoRA (the folder's logits turned into the per-example
summed NLL tuneforge records; the adapter on its base through peft; after prompt tuning, model/ is
the base plus model/prompt, whose virtual tokens come first in peft's logits) both check as `agrees`; neither is an
embedding model, and each refusal says why. One epoch on tiny models, about 15 s per run."""
from __future__ import annotations

import pandas as pd
import pytest

import tuneforge
from tuneforge.artefacts.export_check import check_artefacts
from tuneforge.cli import main

from helpers.ner_toy import ner_rows, write_conll


def _agree(run_dir, names):
    checks = {c.artefact: c for c in check_artefacts(run_dir)}
    assert set(checks) == set(names), [c.line() for c in checks.values()]
    for c in checks.values():
        assert c.agrees, c.line()
        assert c.value <= c.tolerance


def test_token_classification_run_checks_and_is_no_embedding_model(bert_dir, tmp_path, capsys):
    conll = write_conll(tmp_path / "toy.conll", ner_rows(80, seed=0))
    run = tuneforge.finetune({
        "task": "token-classification", "model": {"name": str(bert_dir)},
        "data": {"train": str(conll), "max_length": 32}, "strategy": {"name": "full"},
        "train": {"epochs": 1, "batch_size": 16, "seed": 1}, "evaluate": {"bootstrap": 20, "report": False},
        "output": {"dir": str(tmp_path / "runs")}}, quiet=True).run_dir
    _agree(run, {"tuneforge (model/)", "model/ (transformers)"})
    assert main(["export", str(run), "--sentence-transformers"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "token-classification run" in err and "reads every token's state" in err


@pytest.mark.parametrize("strategy", [{"name": "lora", "r": 4}, {"name": "prompt-tuning", "num_virtual_tokens": 4}])
def test_causal_lm_run_checks_its_folder_and_adapter_and_is_no_embedding_model(tmp_path, capsys, strategy):
    from helpers.tiny_lm import tiny_causal_lm

    llama = tiny_causal_lm(tmp_path / "llama")
    words = "cat dog sun tree car boat bird fish".split()
    pd.DataFrame([{"prompt": f"the {w} is", "response": "good"} for w in words] * 5).to_csv(tmp_path / "p.csv",
                                                                                              index=False)
    run = tuneforge.finetune({
        "task": "causal-lm", "model": {"name": str(llama)},
        "data": {"train": str(tmp_path / "p.csv"), "prompt_column": "prompt", "response_column": "response",
                 "validation": 0.15, "test": 0.2, "clean": {"drop_duplicates": False}, "max_length": 16},
        "strategy": strategy, "optimizer": {"lr": 2e-2}, "train": {"epochs": 1, "batch_size": 8},
        "generate": {"max_new_tokens": 2, "samples": 2}, "evaluate": {"bootstrap": 20, "report": False},
        "output": {"dir": str(tmp_path / "runs")}}, quiet=True).run_dir
    prompt = " + peft prompt" if strategy["name"] == "prompt-tuning" else ""   # model/ is the base + model/prompt
    _agree(run, {"tuneforge (model/)", f"model/ (transformers{prompt})", "adapter/ (peft)"})
    assert main(["export", str(run), "--sentence-transformers"]) == 2
    assert "has no pooled features" in " ".join(capsys.readouterr().err.split())
