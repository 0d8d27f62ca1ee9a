"""Private runs refuse what DP-SGD cannot make private, with one clear message and before any run folder:
staged strategies, a solved head, token-averaged losses, batch-mixing settings, trainable BatchNorm,
fp16 loss scaling, compiled graphs and gradient checkpointing.
The privacy section itself is checked like every other (one noise source, did-you-mean for typos)."""
import pytest
import yaml

from tuneforge.cli import main
from tuneforge.privacy import model_problems
from tuneforge.recipe.validate import all_problems
from tuneforge.strategies import Strategy

from runs.conftest import text_recipe
from toy import toy_model

PRIVATE = {"epsilon": 3.0}


@pytest.mark.parametrize("over, expected", [
    ({"strategy.name": "gradual-unfreezing"}, "changes which parameters train during the run"),
    ({"strategy.name": "lp-ft"}, "strategy 'lp-ft' changes which parameters train"),
    ({"strategy.name": "layer-wise"}, "strategy 'layer-wise' changes which parameters train"),
    ({"strategy.name": "auto"}, "strategy 'auto' races several strategies"),
    ({"strategy.name": "linear-probe", "strategy.warm_head": True}, "solves the head by L-BFGS"),
    ({"train.grad_accum": 2}, "train.grad_accum > 1 is not supported"),
    ({"train.class_balance": "weights"}, "train.class_balance: weights"),
    ({"train.cache_frozen": "on"}, "train.cache_frozen: on"),
    ({"strategy.name": "freeze", "strategy.bn": "train"}, "strategy.bn: train"),
    ({"optimizer.lr": "find"}, "optimizer.lr: find runs a non-private range test"),
    ({"evaluate.random_init": True}, "evaluate.random_init trains a second model"),
    ({"train.precision": "fp16"}, "fp16 scales the loss for a gradient scaler"),
    ({"train.compile": True}, "do not run through a compiled graph"),
    ({"train.gradient_checkpointing": True}, "re-runs forward passes"),
])
def test_incompatible_recipes_are_named_by_validate(bert_dir, text_csv, tmp_path, over, expected):
    r = text_recipe(bert_dir, text_csv, tmp_path, privacy=PRIVATE, **{"strategy.name": "lora", **over})
    problems = [p for p in all_problems(r) if p.startswith("privacy:")]
    assert len(problems) == 1 and expected in problems[0], problems


def test_compatible_private_recipes_have_no_problem(bert_dir, text_csv, tmp_path):
    for strategy in ("linear-probe", "freeze", "lora", "full", "bitfit"):
        r = text_recipe(bert_dir, text_csv, tmp_path, privacy=PRIVATE, **{"strategy.name": strategy})
        assert all_problems(r) == []


def test_token_averaged_losses_are_refused(bert_dir, tmp_path):
    data = tmp_path / "ner.jsonl"
    data.write_text('{"tokens": ["the", "dog"], "tags": ["O", "B-X"]}\n' * 20)
    r = {"task": "token-classification", "model": {"name": str(bert_dir)},
         "data": {"train": str(data), "text_column": "tokens", "label_column": "tags"},
         "strategy": {"name": "lora"}, "privacy": PRIVATE, "output": {"dir": str(tmp_path / "runs")}}
    assert any("averages its loss over tokens" in p for p in all_problems(r))


def test_privacy_section_needs_exactly_one_noise_source_and_suggests_keys(bert_dir, text_csv, tmp_path):
    both = text_recipe(bert_dir, text_csv, tmp_path, privacy={"epsilon": 3.0, "noise_multiplier": 1.0})
    assert any("exactly one of privacy.epsilon" in p for p in all_problems(both))
    typo = text_recipe(bert_dir, text_csv, tmp_path, privacy={"epsilom": 3.0})
    assert any("privacy.epsilom" in p and "epsilon" in p for p in all_problems(typo))


def test_trainable_batchnorm_is_refused_and_frozen_batchnorm_is_not():
    """The toy net has a BatchNorm in its stem: full trains it (refused), freeze keeps it frozen (fine)."""
    full = model_problems(toy_model(), Strategy.from_section(type("S", (), {"name": "full",
                                                                            "model_dump": lambda self: {}})()))
    assert len(full) == 1 and "BatchNorm1d: stem.1" in full[0] and "use lora, linear-probe or freeze" in full[0]
    freeze = Strategy.from_section(type("S", (), {"name": "freeze", "model_dump": lambda self: {"top_blocks": 1}})())
    assert model_problems(toy_model(), freeze) == []


def test_cli_refuses_a_private_staged_run_with_one_message_and_no_folder(bert_dir, text_csv, tmp_path, capsys):
    out = tmp_path / "runs"
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(text_recipe(bert_dir, text_csv, out, privacy=PRIVATE,
                                               **{"strategy.name": "gradual-unfreezing"})))
    assert main(["run", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "privacy: strategy 'gradual-unfreezing' changes which parameters train" in err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())
