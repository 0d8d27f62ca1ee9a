"""causal-lm: data formats, response-only labels, packing without leaks, perplexity and its bootstrap,
a tiny LoRA run that learns, and the saved model / adapter generating what `tuneforge predict` does."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from tuneforge.data.lm_encode import encode_lm_split
from tuneforge.data.lm_examples import IGNORE, encode_example
from tuneforge.data.bundle import Split
from tuneforge.data.load import load_data
from tuneforge.errors import DataError
from tuneforge.evaluation.perplexity import lm_intervals, lm_metrics, lm_paired_bootstrap
from tuneforge.models.causal_lm import load_causal_lm, packing_problem
from tuneforge.recipe import Recipe
from tuneforge.recipe.schema import DataSection, ModelSection
from tuneforge.tasks import TASKS

TASK = TASKS.get("causal-lm")
TEMPLATE = ("{% for m in messages %}<s> {{ m['role'] }} {{ m['content'] }} </s> {% endfor %}"
            "{% if add_generation_prompt %}<s> assistant {% endif %}")
WORDS = "water fire tree road book river car horse ship bird dog song door city farm sun".split()


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    from helpers.tiny_lm import tiny_causal_lm
    return tiny_causal_lm(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def chat_dir(llama_dir, tmp_path_factory):
    """The tiny Llama with a chat template in its tokenizer."""
    from transformers import AutoTokenizer
    folder = tmp_path_factory.mktemp("tiny-llama-chat") / "m"
    shutil.copytree(llama_dir, folder)
    tok = AutoTokenizer.from_pretrained(folder)
    tok.chat_template = TEMPLATE
    tok.save_pretrained(folder)
    return folder


def _pairs(n_per_word=4, answer=lambda w: f"good {w}") -> pd.DataFrame:
    return pd.DataFrame([{"prompt": f"the {w} is", "response": answer(w)} for w in WORDS] * n_per_word)


def _tokenizer(folder):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(folder)


# -- data --------------------------------------------------------------------------------------------

def test_plain_text_and_pairs_load_and_a_missing_column_is_named():
    texts = pd.DataFrame({"text": [f"the {w} is good" for w in WORDS]})
    bundle = load_data(DataSection(train=texts, validation=None, test=0.25), TASK, seed=0)
    assert all(isinstance(t, str) for t in bundle.train.inputs) and len(bundle.test) == 4

    data = DataSection(train=_pairs(1), prompt_column="prompt", response_column="response", validation=None,
                       test=None)
    bundle = load_data(data, TASK, seed=0)
    assert set(bundle.train.inputs) == {(f"the {w} is", f"good {w}") for w in WORDS}

    bad = data.model_copy(update={"response_column": "answer"})
    with pytest.raises(DataError, match=r"data\.response_column: column 'answer' is not in"):
        load_data(bad, TASK, seed=0)


def test_pair_labels_cover_only_the_response_without_a_template(llama_dir):
    tok = _tokenizer(llama_dir)
    ids, labels = encode_example(("the water is", "good water"), tok, 64, train_on_prompt=False)
    prompt = tok("the water is\n", add_special_tokens=False)["input_ids"]
    response = tok("good water" + tok.eos_token, add_special_tokens=False)["input_ids"]
    assert ids == prompt + response
    assert labels == [IGNORE] * len(prompt) + response
    _, every = encode_example(("the water is", "good water"), tok, 64, train_on_prompt=True)
    assert every == ids


def test_chat_template_formats_pairs_and_chats_with_loss_on_assistant_turns(chat_dir):
    tok = _tokenizer(chat_dir)
    ids, labels = encode_example(("the water is", "good water"), tok, 64, train_on_prompt=False)
    full = tok.apply_chat_template([{"role": "user", "content": "the water is"},
                                    {"role": "assistant", "content": "good water"}], tokenize=False)
    assert ids == tok(full, add_special_tokens=False)["input_ids"]
    target = [t for t, y in zip(ids, labels) if y != IGNORE]
    assert tok.decode(target).split() == ["good", "water", "</s>"]

    chat = [{"role": "user", "content": "the fire is"}, {"role": "assistant", "content": "good fire"},
            {"role": "user", "content": "the tree is"}, {"role": "assistant", "content": "bad tree"}]
    ids, labels = encode_example(chat, tok, 128, train_on_prompt=False)
    target = tok.decode([t for t, y in zip(ids, labels) if y != IGNORE]).split()
    assert target == ["good", "fire", "</s>", "bad", "tree", "</s>"]   # both answers, no user turn


def test_a_chat_without_an_answer_is_refused():
    df = pd.DataFrame({"messages": [[{"role": "user", "content": "hi"}]]})
    with pytest.raises(DataError, match="no assistant message"):
        load_data(DataSection(train=df, messages_column="messages", validation=None, test=None), TASK, seed=0)


def test_max_length_cuts_ids_and_labels_together(llama_dir):
    ids, labels = encode_example(("the water is the road", "good water"), _tokenizer(llama_dir), 5, False)
    assert len(ids) == len(labels) == 5 and all(y == IGNORE for y in labels)


# -- packing -----------------------------------------------------------------------------------------

def _split(n=12):
    rows = [(f"the {w} is", f"good {w} and the {WORDS[(i + 3) % len(WORDS)]}") for i, w in enumerate(WORDS[:n])]
    return Split(rows, np.zeros(len(rows), dtype=np.float32))


def test_packed_batches_give_the_same_loss_as_one_example_per_row(llama_dir):
    model = load_causal_lm(ModelSection(name=str(llama_dir))).eval()
    data = DataSection(train="x", max_length=40)
    packed = encode_lm_split(_split(), model, data, pack=True, seed=0)
    plain = encode_lm_split(_split(), model, data, pack=False)
    assert len(packed) < len(plain) and max(len(p) for p in packed.packs) > 1
    assert int(packed.lengths.max()) <= 40
    with torch.no_grad():
        a = model(packed.batch(np.arange(len(packed)))).sum(0)
        b = model(plain.batch(np.arange(len(plain)))).sum(0)
    assert float(a[1]) == float(b[1])                    # the same target tokens
    torch.testing.assert_close(a[0], b[0], rtol=0, atol=1e-3)   # a leak moves it by ~0.6 here
    assert packing_problem(model, packed) is None


def test_packing_that_would_leak_attention_is_detected(llama_dir, monkeypatch):
    """With a plain causal mask over the packed row (examples see each other), the check must object."""
    import tuneforge.models.causal_lm as clm

    model = load_causal_lm(ModelSection(name=str(llama_dir))).eval()
    packed = encode_lm_split(_split(), model, DataSection(train="x", max_length=40), pack=True, seed=0)
    monkeypatch.setattr(clm, "packed_mask", _leaky)
    assert "attend to each other" in packing_problem(model, packed)


def _leaky(segment_ids, dtype):
    t = segment_ids.shape[1]
    allowed = torch.ones(t, t, dtype=torch.bool).tril()
    return torch.zeros(t, t, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)[None, None]


# -- perplexity --------------------------------------------------------------------------------------

def test_perplexity_is_token_weighted_and_its_bootstrap_resamples_examples():
    out = np.array([[10.0, 5], [30.0, 5], [6.0, 2]])
    m = lm_metrics(out)
    assert m["tokens"] == 12 and m["nll"] == pytest.approx(46 / 12)
    assert m["perplexity"] == pytest.approx(np.exp(46 / 12))
    rng = np.random.default_rng(0)
    many = np.stack([rng.gamma(20, 0.2, 200) * 10, np.full(200, 10.0)], 1)
    ci = lm_intervals(many, 500, 0.95, seed=1)
    point = lm_metrics(many)["perplexity"]
    assert ci["perplexity"][0] < point < ci["perplexity"][1]
    better = many.copy()
    better[:, 0] *= 0.8
    res = lm_paired_bootstrap(better, many, "perplexity", 500, 0.95, 0)
    assert res["difference"] < 0 and res["ci"][1] < 0 and res["p_value"] < 0.01


def test_causal_lm_defaults_to_lora_unless_the_recipe_names_a_strategy(llama_dir):
    base = {"task": "causal-lm", "model": {"name": str(llama_dir)}, "data": {"train": "x.csv"}}
    assert Recipe(**base).strategy.name == "lora"
    assert Recipe(**base, strategy={"name": "full"}).strategy.name == "full"
    assert Recipe(task="text-classification", model={"name": "m"}, data={"train": "x"}).strategy.name == "full"


# -- a whole run --------------------------------------------------------------------------------------

def _recipe(llama_dir, out, **over):
    r = {"task": "causal-lm", "model": {"name": str(llama_dir)},
         "data": {"train": _pairs(6, answer=lambda w: "good"), "prompt_column": "prompt", "response_column": "response",
                  "validation": 0.15, "test": 0.2, "clean": {"drop_duplicates": False}, "max_length": 16},
         "strategy": {"name": "lora", "r": 8, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj",
                                                                 "gate_proj", "up_proj", "down_proj"]},
         "optimizer": {"lr": 2e-2}, "train": {"epochs": 4, "batch_size": 8, "seed": 3},
         "generate": {"max_new_tokens": 3, "samples": 4}, "evaluate": {"bootstrap": 200},
         "output": {"dir": str(out)}}
    r.update(over)
    return Recipe(**r)


@pytest.fixture(scope="module")
def lora_run(llama_dir, tmp_path_factory):
    from tuneforge.runs.pipeline import run
    return run(_recipe(llama_dir, tmp_path_factory.mktemp("runs")), quiet=True)


def test_a_tiny_lora_run_lowers_held_out_perplexity(lora_run):
    m = lora_run.metrics
    assert m["baseline"]["perplexity"] > 2 * m["test"]["perplexity"]           # before vs after
    assert m["vs_baseline"]["better"]
    lo, hi = m["test_ci"]["perplexity"]
    assert lo <= m["test"]["perplexity"] <= hi
    assert m["generation"]["exact_match"]["after"] > m["generation"]["exact_match"]["before"]
    assert all({"prompt", "reference", "before", "after"} <= set(s) for s in m["generation"]["samples"])
    assert m["retention"]["before"] and m["retention"]["after"]
    notes = json.loads((lora_run.run_dir / "plan.json").read_text())[0]["notes"]
    assert any("keeps its pre-trained LM head" in n for n in notes)
    html = (lora_run.run_dir / "report.html").read_text()
    assert "What does it write?" in html and "pre-trained model (before fine-tuning)" in html


def test_merged_folder_and_adapter_generate_what_predict_prints(lora_run, llama_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tuneforge.artefacts.evaluate_run import predict_cells

    prompt = "the river is"
    shown = predict_cells(lora_run.run_dir, [prompt])[0][0]
    tok = AutoTokenizer.from_pretrained(lora_run.run_dir / "model")
    enc = tok(prompt + "\n", return_tensors="pt", add_special_tokens=False)

    def greedy(net):
        ids = net.eval().generate(**enc, max_new_tokens=3, do_sample=False, pad_token_id=tok.pad_token_id)
        return tok.decode(ids[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()

    merged = AutoModelForCausalLM.from_pretrained(lora_run.run_dir / "model")
    adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(llama_dir), lora_run.run_dir / "adapter")
    assert greedy(merged) == shown == greedy(adapter)
    assert shown == "good"     # it learned the answer format
    assert not any("lm_head" in k for k in adapter.state_dict() if "lora" not in k and "base_layer" not in k
                   and "modules_to_save" in k)


def test_packing_run_trains_and_full_fine_tuning_is_allowed(llama_dir, tmp_path):
    from tuneforge.runs.pipeline import run
    r = _recipe(llama_dir, tmp_path, strategy={"name": "full"}, optimizer={"lr": 3e-3},
                train={"epochs": 2, "batch_size": 4, "seed": 3},
                evaluate={"bootstrap": 0, "report": False}, generate={"samples": 0})
    r.data.packing = True
    r.data.max_length = 32
    m = run(r, quiet=True).metrics
    assert m["test"]["perplexity"] < m["baseline"]["perplexity"]


def test_evaluate_scores_a_new_file_with_perplexity_and_interval(lora_run, tmp_path):
    from tuneforge.artefacts.evaluate_run import evaluate_run
    path = tmp_path / "more.csv"
    _pairs(2, answer=lambda w: "good").to_csv(path, index=False)
    res = evaluate_run(lora_run.run_dir, path, resamples=100)
    assert res["examples"] == 2 * len(WORDS)
    lo, hi = res["test_ci"]["perplexity"]
    assert lo <= res["test"]["perplexity"] <= hi
    assert res["test"]["perplexity"] < lora_run.metrics["baseline"]["perplexity"]


@pytest.mark.parametrize("strategy, changed", [("linear-probe", {"model.norm.weight"}),
                                               ("freeze", None)])
def test_a_tied_lm_head_trains_only_with_the_embeddings(llama_dir, tmp_path, strategy, changed):
    """linear-probe: only the final norm moves (the tied head is the embedding matrix); freeze: never the embeddings."""
    from tuneforge.runs.pipeline import run
    before = {k: v.clone() for k, v in load_causal_lm(ModelSection(name=str(llama_dir))).net.state_dict().items()}
    r = _recipe(llama_dir, tmp_path, strategy={"name": strategy}, optimizer={"lr": 1e-3},
                train={"max_steps": 2, "batch_size": 8, "seed": 3}, generate={"samples": 0},
                evaluate={"bootstrap": 0, "report": False, "baseline": False})
    after = run(r, quiet=True).model.net.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and "model.embed_tokens.weight" not in moved and "lm_head.weight" not in moved
    if changed is not None:
        assert moved == changed


# -- the LM head only at target positions ------------------------------------------------------------

def _full_logits_nll(model, batch):
    from tuneforge.models.causal_lm import token_nll
    logits = model.net(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return token_nll(logits, batch["targets"])


def test_the_head_on_target_positions_gives_the_full_logits_losses_and_gradients(llama_dir):
    model = load_causal_lm(ModelSection(name=str(llama_dir)))
    assert model.head_on_targets          # a plain Llama: its logits are lm_head(decoder output)
    plain = encode_lm_split(_split(), model, DataSection(train="x", max_length=40), pack=False)
    batch = plain.batch(np.arange(len(plain)))
    assert (batch["targets"] == IGNORE).any() and (batch["targets"] != IGNORE).any()  # prompt tokens carry none
    fast = model(batch)
    fast[:, 0].sum().backward()
    grads = {n: p.grad.clone() for n, p in model.net.named_parameters() if p.grad is not None}
    model.net.zero_grad()
    full = _full_logits_nll(model, batch)
    full[:, 0].sum().backward()
    torch.testing.assert_close(fast, full, rtol=1e-5, atol=1e-5)
    for name, p in model.net.named_parameters():
        torch.testing.assert_close(grads[name], p.grad, rtol=1e-4, atol=1e-6, msg=name)


def test_a_model_that_changes_its_logits_after_the_head_keeps_the_full_logits_path(llama_dir):
    """Soft-capping (Gemma 2's final_logit_softcapping and the like) happens after the head: the check at
    load time must see the difference and fall back, or the loss would silently be another model's."""
    from tuneforge.models.causal_lm import head_on_targets_agrees

    model = load_causal_lm(ModelSection(name=str(llama_dir)))
    inner = model.net.forward

    def capped(*args, **kwargs):
        out = inner(*args, **kwargs)
        out.logits = 5.0 * torch.tanh(out.logits / 5.0)
        return out

    model.net.forward = capped
    assert head_on_targets_agrees(model) is False
    model.head_on_targets = False
    plain = encode_lm_split(_split(), model, DataSection(train="x", max_length=40), pack=False)
    batch = plain.batch(np.arange(len(plain)))
    with torch.no_grad():
        torch.testing.assert_close(model(batch), _full_logits_nll(model, batch))
