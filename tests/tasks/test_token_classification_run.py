"""token-classification end to end on a tiny BERT: full, LoRA and linear-probe runs learn; the saved
folder loads in the transformers pipeline and agrees with ``tuneforge predict``; spans carry offsets."""
import json

import pytest
import torch
from safetensors.torch import load_file

import tuneforge
from helpers.ner_toy import ner_rows, write_conll
from tuneforge.cli import main

TEXTS = ["the king went to sea-port", "north city was new", "the boy said the mother saw a farm",
         "father went to the island with the girl"]


@pytest.fixture(scope="module")
def conll(tmp_path_factory):
    return write_conll(tmp_path_factory.mktemp("ner") / "toy.conll", ner_rows(200, seed=0))


def _run(bert_dir, conll, out, strategy: dict, subword_labels="first", epochs=4, lr=1e-2):
    return tuneforge.finetune({
        "task": "token-classification", "model": {"name": str(bert_dir)},
        "data": {"train": str(conll), "max_length": 32, "subword_labels": subword_labels},
        "strategy": strategy, "optimizer": {"lr": lr}, "train": {"epochs": epochs, "batch_size": 16, "seed": 1},
        "evaluate": {"bootstrap": 200}, "output": {"dir": str(out)}})


def _losses(run):
    history = [json.loads(l) for l in (run.run_dir / "history.jsonl").read_text().splitlines()]
    return [h["train_loss"] for h in history if h["train_loss"] is not None]


@pytest.fixture(scope="module")
def full_run(bert_dir, conll, tmp_path_factory):
    return _run(bert_dir, conll, tmp_path_factory.mktemp("runs"), {"name": "full", "warm_head": False},
                subword_labels="all")


def test_full_run_learns_entities(full_run):
    m = full_run.metrics
    assert m["monitor"] == "entity_f1" and m["data"]["label_names"] == ["O", "B-LOC", "I-LOC", "B-PER"]
    losses = _losses(full_run)
    assert losses[-1] < losses[0] - 0.2
    assert m["test"]["entity_f1"] > 0.8 and m["baseline_majority"]["entity_f1"] == 0.0
    assert m["baseline_majority"]["token_accuracy"] > 0.5     # the majority tag is O
    assert m["baseline"]["entity_f1"] > 0.3                    # softmax probe on the frozen word features
    lo, hi = m["test_ci"]["entity_f1"]
    assert lo <= m["test"]["entity_f1"] <= hi and m["bootstrap_unit"] == "sentences"
    assert set(m["test"]["per_type"]) == {"LOC", "PER"}
    assert m["data"]["truncation"]["train"]["sentences"] == 0


def test_report_shows_types_confusion_and_highlighted_sentences(full_run):
    from tuneforge.report import build_run_report

    html = build_run_report(full_run.run_dir)
    assert "Test split per entity type" in html and "Confusion between types" in html
    assert "Test sentences" in html and "predicted: " in html and "<b>PER</b>" in html
    examples = json.loads((full_run.run_dir / "entity_examples.json").read_text())
    assert 0 < len(examples) <= 8 and all(len(e["words"]) > e["gold"][-1]["last"] for e in examples if e["gold"])


def test_saved_folder_agrees_with_the_transformers_pipeline(full_run):
    from transformers import pipeline

    nlp = pipeline("token-classification", model=str(full_run.run_dir / "model"), aggregation_strategy="simple")
    ours = full_run.predict(TEXTS)
    found = 0
    for text, row in zip(TEXTS, ours):
        theirs = [(e["entity_group"], e["start"], e["end"]) for e in nlp(text)]
        assert theirs == [(e["entity"], e["start"], e["end"]) for e in row["entities"]], text
        found += len(theirs)
    assert found >= 6
    assert ("LOC", 17, 25) in [(e["entity"], e["start"], e["end"]) for e in ours[0]["entities"]]   # sea-port


def test_predict_returns_spans_with_character_offsets(full_run, capsys):
    text = "  the  king went to   sea-port "
    (row,) = full_run.predict([text])
    assert len(row["tags"]) == 5 and row["tags"][1] == "B-PER" and row["tags"][4][2:] == "LOC"   # white-space words
    spans = [(e["entity"], e["start"], e["end"], e["text"]) for e in row["entities"]]
    assert spans == [("PER", 7, 11, "king"), ("LOC", 22, 30, "sea-port")]
    for e in row["entities"]:
        assert text[e["start"]:e["end"]] == e["text"] and 0 < e["score"] <= 1
    main(["predict", str(full_run.run_dir), "the king went to sea-port"])
    assert "king [PER 4:8]" in capsys.readouterr().out


def test_evaluate_on_a_new_conll_file(full_run, conll):
    from rich.console import Console

    from tuneforge.artefacts.evaluate_run import evaluate_run

    result = evaluate_run(full_run.run_dir, conll, Console(quiet=True), resamples=50)
    assert result["examples"] == 200 and result["test"]["entity_f1"] > 0.8
    lo, hi = result["test_ci"]["entity_f1"]
    assert lo <= result["test"]["entity_f1"] <= hi


def test_lora_trains_adapters_only_and_learns(bert_dir, conll, tmp_path):
    run = _run(bert_dir, conll, tmp_path, {"name": "lora", "warm_head": False}, lr=2e-2, epochs=3)
    losses = _losses(run)
    assert losses[-1] < losses[0] - 0.2
    train = run.metrics["train"]
    assert train["trainable_parameters"] < train["total_parameters"] / 2
    assert run.metrics["test"]["entity_f1"] > run.metrics["baseline_majority"]["entity_f1"]


def test_linear_probe_solves_the_head_on_word_features_and_leaves_the_body(bert_dir, conll, tmp_path):
    run = _run(bert_dir, conll, tmp_path, {"name": "linear-probe"})
    plan = json.loads((run.run_dir / "plan.json").read_text())
    assert plan[0]["head_solution"]["kind"] == "softmax" and run.metrics["train"]["steps"] == 0
    assert plan[0]["head_solution"]["n"] > 3 * run.metrics["data"]["sizes"]["train"]   # a row per word, not sentence
    assert run.metrics["test"]["entity_f1"] > 0.5
    before = load_file(str(bert_dir / "model.safetensors"))
    after = load_file(str(run.run_dir / "model" / "model.safetensors"))
    body = [k for k in before if k.startswith(("encoder.", "embeddings."))]
    assert body and all(torch.equal(before[k], after["bert." + k]) for k in body)


STRATEGIES = ["bitfit", "discriminative", "freeze", "gradual-unfreezing", "ia3", "layer-wise", "lp-ft", "lora", "full"]


@pytest.mark.parametrize("name", STRATEGIES)
def test_every_strategy_steps_a_token_model_and_saves_it(bert_dir, conll, tmp_path, name):
    """A few steps of each strategy: the plan runs, the head's outputs stay per word, the folder saves."""
    run = tuneforge.finetune({
        "task": "token-classification", "model": {"name": str(bert_dir)},
        "data": {"train": str(conll), "max_length": 32, "max_train_samples": 48, "validation": 0.1, "test": 0.2},
        "strategy": {"name": name}, "optimizer": {"lr": 1e-2},
        "train": {"epochs": 2, "max_steps": 3, "batch_size": 16, "seed": 1},
        "evaluate": {"bootstrap": 20, "baseline": False, "report": False}, "output": {"dir": str(tmp_path)}})
    m = run.metrics
    assert m["train"]["steps"] > 0 and 0.0 <= m["test"]["entity_f1"] <= 1.0
    assert m["test"]["sentences"] == m["data"]["sizes"]["test"]
    assert (run.run_dir / "model" / "config.json").is_file()
    assert len(run.predict(["the king went to sea-port"])[0]["tags"]) == 5
