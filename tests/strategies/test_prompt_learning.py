"""prompt-tuning and prefix-tuning on a tiny Llama: only the virtual tokens train, the loss lines up with
peft's own, the run lowers perplexity, the saved adapter and model/ load with peft alone and generate what
tuneforge does, and what these methods cannot do is refused at validate time."""
import json

import pandas as pd
import pytest
import torch

from tuneforge.cli import main
from tuneforge.models.causal_lm import load_causal_lm
from tuneforge.recipe import Recipe
from tuneforge.recipe.schema import ModelSection
from tuneforge.recipe.validate import recipe_problems
from tuneforge.strategies import STRATEGIES, Strategy

WORDS = "water fire tree road book river car horse ship bird dog song door city farm sun".split()
STRATEGY = {"prompt-tuning": {"name": "prompt-tuning", "num_virtual_tokens": 4, "init_text": "the answer is"},
            "prefix-tuning": {"name": "prefix-tuning", "num_virtual_tokens": 4, "prefix_projection": True,
                              "encoder_hidden_size": 16}}


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    from helpers.tiny_lm import tiny_causal_lm
    return tiny_causal_lm(tmp_path_factory.mktemp("tiny-llama"))


def _recipe(llama_dir, out, strategy, **over) -> Recipe:
    pairs = pd.DataFrame([{"prompt": f"the {w} is", "response": "good"} for w in WORDS] * 6)
    r = {"task": "causal-lm", "model": {"name": str(llama_dir)},
         "data": {"train": pairs, "prompt_column": "prompt", "response_column": "response", "validation": 0.15,
                  "test": 0.2, "clean": {"drop_duplicates": False}, "max_length": 16},
         "strategy": strategy, "train": {"epochs": 3, "batch_size": 8, "seed": 3},
         "generate": {"max_new_tokens": 3, "samples": 2}, "evaluate": {"bootstrap": 50, "report": False},
         "output": {"dir": str(out)}}
    r.update(over)
    return Recipe(**r)


@pytest.fixture(scope="module", params=list(STRATEGY))
def prompt_run(request, llama_dir, tmp_path_factory):
    from tuneforge.runs.pipeline import run
    return run(_recipe(llama_dir, tmp_path_factory.mktemp("runs"), STRATEGY[request.param]), quiet=True)


def test_listed_with_their_default_learning_rates():
    assert {"prompt-tuning", "prefix-tuning"} <= set(STRATEGIES.names())
    from tuneforge.strategies.defaults import DefaultsContext
    ctx = DefaultsContext("decoder", 4, new_head=False)
    assert Strategy.from_section(Recipe(task="causal-lm", model={"name": "m"}, data={"train": "x"},
                                        strategy={"name": "prompt-tuning"}).strategy).defaults(ctx)[
        "optimizer.lr"][0] == pytest.approx(3e-2)
    prefix = STRATEGIES.get("prefix-tuning")()
    assert prefix.defaults(ctx)["optimizer.lr"][0] == pytest.approx(1e-2) and prefix.options.num_virtual_tokens == 20


@pytest.mark.parametrize("name", list(STRATEGY))
def test_the_loss_lines_up_with_peft_and_transformers_own(llama_dir, name):
    """tuneforge's token NLL (virtual positions dropped) equals the loss peft computes from ``labels``."""
    model = load_causal_lm(ModelSection(name=str(llama_dir)))
    Strategy.from_section(_recipe(llama_dir, "x", STRATEGY[name]).strategy).prepare(model)
    model.eval()
    ids = torch.tensor([[5, 6, 7, 8, 9, 10]])
    targets = torch.tensor([[-100, -100, -100, 8, 9, 10]])
    ours = model({"input_ids": ids, "attention_mask": torch.ones_like(ids), "targets": targets})
    theirs = model.net(input_ids=ids, attention_mask=torch.ones_like(ids), labels=targets).loss
    assert float(ours[0, 1]) == 3
    assert float(ours[0, 0] / ours[0, 1]) == pytest.approx(float(theirs), rel=1e-5)
    logits = model.net(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    assert logits.shape[1] == ids.shape[1] + model.virtual_tokens
    assert model.virtual_tokens == (4 if name == "prompt-tuning" else 0)


def test_only_the_virtual_tokens_train_and_perplexity_falls(prompt_run, llama_dir):
    m = prompt_run.metrics
    assert m["test"]["perplexity"] < m["baseline"]["perplexity"]
    net = prompt_run.model.net
    trained = {n: p for n, p in net.named_parameters() if n.startswith("prompt_encoder.")}
    assert m["train"]["trainable_parameters"] == sum(p.numel() for p in trained.values()) > 0
    before = load_causal_lm(ModelSection(name=str(llama_dir))).net.state_dict()
    after = net.get_base_model().state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    plan = json.loads((prompt_run.run_dir / "plan.json").read_text())
    assert plan[0]["trainable_parameters"] == m["train"]["trainable_parameters"]


def test_adapter_and_model_folder_load_with_peft_and_generate_what_tuneforge_does(prompt_run, llama_dir):
    from peft import AutoPeftModelForCausalLM, PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tuneforge.artefacts.evaluate_run import predict_cells

    run_dir = prompt_run.run_dir
    prompt = "the river is"
    shown = predict_cells(run_dir, [prompt])[0][0]
    tok = AutoTokenizer.from_pretrained(run_dir / "adapter")
    enc = tok([prompt + "\n"], return_tensors="pt", add_special_tokens=False)

    def greedy(net):
        ids = net.eval().generate(**enc, max_new_tokens=3, do_sample=False, pad_token_id=tok.pad_token_id)
        return tok.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()

    adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(llama_dir), run_dir / "adapter")
    auto = AutoPeftModelForCausalLM.from_pretrained(run_dir / "adapter")   # base named in adapter_config.json
    from_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(run_dir / "model"),
                                           run_dir / "model" / "prompt")
    ours = prompt_run.model.generate([prompt + "\n"], prompt_run.recipe.generate.model_copy(
        update={"max_new_tokens": 3, "do_sample": False}))[0]
    assert greedy(adapter) == greedy(auto) == greedy(from_model) == shown == ours
    with torch.no_grad():
        prompt_run.model.net.eval()
        a = adapter(**enc).logits
        assert torch.allclose(a, prompt_run.model.net(**enc).logits, atol=1e-5)
        assert torch.allclose(a, from_model(**enc).logits, atol=1e-5)
    # model/ holds the pre-trained weights unchanged and says so; the adapter holds only the virtual tokens
    base = AutoModelForCausalLM.from_pretrained(llama_dir).state_dict()
    saved = load_file(str(run_dir / "model" / "model.safetensors"))
    assert all(torch.equal(saved[k], base[k]) for k in saved)
    assert all("prompt_embeddings" in k or "prefix" in k or "prompt_encoder" in k
               for k in load_file(str(run_dir / "adapter" / "adapter_model.safetensors")))
    card = (run_dir / "model" / "README.md").read_text()
    assert "**unchanged**" in card and "PeftModel.from_pretrained(base" in card
    assert "cannot be merged" in (run_dir / "adapter" / "README.md").read_text()
    config = json.loads((run_dir / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(llama_dir)


def _problems(llama_dir, strategy="prompt-tuning", **over):
    r = _recipe(llama_dir, "x", {"name": strategy}, **over)
    return [p for p in recipe_problems(r)]


def test_what_prompt_learning_cannot_do_is_refused_at_validate_time(llama_dir, tmp_path):
    probs = _problems(llama_dir, "prefix-tuning", train={"gradient_checkpointing": True, "compile": True})
    assert any(p.startswith("train.gradient_checkpointing: 'prefix-tuning'") for p in probs)
    assert any(p.startswith("train.compile: not supported with 'prefix-tuning'") for p in probs)
    assert not any("gradient_checkpointing" in p for p in
                   _problems(llama_dir, "prompt-tuning", train={"gradient_checkpointing": True}))
    regs = _problems(llama_dir, regularisers=[{"name": n, "weight": 1.0} for n in ("l2-sp", "ewc", "distillation")])
    assert [p.split(":")[0] for p in regs] == ["regularisers[0]", "regularisers[1]", "regularisers[2]"]
    assert "its penalty would stay 0" in regs[0] and "untrained virtual tokens" in regs[2]
    packed = _recipe(llama_dir, "x", {"name": "prompt-tuning"})
    packed.data.packing = True
    assert any(p.startswith("data.packing: 'prompt-tuning'") for p in recipe_problems(packed))
    classify = Recipe(task="text-classification", model={"name": str(llama_dir)}, data={"train": "x.csv"},
                      strategy={"name": "prefix-tuning"})
    assert any(p.startswith("strategy.name: 'prefix-tuning' learns a prompt for a causal language model")
               for p in recipe_problems(classify))


def test_validate_and_run_refuse_another_task_with_exit_code_2(llama_dir, tmp_path, capsys):
    import yaml
    csv = tmp_path / "t.csv"
    pd.DataFrame({"text": ["a b", "c d"] * 4, "label": [0, 1] * 4}).to_csv(csv, index=False)
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"task": "text-classification", "model": {"name": str(llama_dir)},
                                    "data": {"train": str(csv)}, "strategy": {"name": "prompt-tuning"},
                                    "output": {"dir": str(tmp_path / "out")}}))
    for command in ("validate", "run"):
        assert main([command, str(path)]) == 2
        err = capsys.readouterr()
        text = err.out + err.err
        assert "needs task: causal-lm" in text and "Traceback" not in text
    assert not (tmp_path / "out").exists()
