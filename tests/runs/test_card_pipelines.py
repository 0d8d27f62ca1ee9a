"""Every exported task family deploys as its card says, and never predicts otherwise in silence.

For one tiny finished run per family (text classification with mean pooling, text pairs, multi-label
with its tuned thresholds, regression, token classification, causal LM, a ViT, a timm CNN, audio):

* the plain load (``AutoModelFor...from_pretrained(folder)``, ``timm.create_model("local-dir:...")``)
  either gives tuneforge's logits, or stops with an error naming ``trust_remote_code=True``; trusted,
  it gives them;
* the card's FIRST code block, copied out of the written README.md and run from the model folder,
  gives ``tuneforge predict``'s predictions on its own example inputs, and on held-out inputs put in
  place of them (the only change made to the block).

Each run trains 1 epoch on a few dozen rows (a few seconds each on a shared CPU)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import tuneforge
from helpers.cards import code_blocks, run_block
from helpers.ner_toy import ner_rows, write_conll
from runs.conftest import sentiment_table
from tuneforge.artefacts.evaluate_run import predict_run
from tuneforge.models import load_saved_model

QUICK = {"train": {"epochs": 1, "batch_size": 8, "seed": 0, "restore_best": False},
         "evaluate": {"bootstrap": 10, "report": False, "explain": 0, "baseline": False}}


def _finetune(out, **recipe):
    return tuneforge.finetune({**QUICK, **recipe, "output": {"dir": str(out)}}, quiet=True)


def _csv(path, df):
    df.to_csv(path, index=False)
    return str(path)


def _pairs(n, seed):
    rng = np.random.default_rng(seed)
    table = sentiment_table(n, seed)
    table["premise"] = [" ".join(rng.choice(["the", "a", "day", "film"], size=3)) for _ in range(n)]
    return table.rename(columns={"text": "hypothesis"})


def _multilabel(n, seed):
    from tasks.conftest import multilabel_rows
    return [{"text": r["text"], "labels": r["labels"]} for r in multilabel_rows(n, seed)]


def _tones(root: Path, n: int, seed: int) -> Path:
    """``root/low/*.wav`` and ``root/high/*.wav``: half-second tones, 16 kHz mono."""
    import soundfile
    rng = np.random.default_rng(seed)
    t = np.arange(8000) / 16000
    for label, base in (("low", 220.0), ("high", 1760.0)):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            wave = 0.5 * np.sin(2 * np.pi * base * (1 + 0.1 * rng.random()) * t) + 0.01 * rng.normal(size=t.size)
            soundfile.write(root / label / f"{i}.wav", wave.astype("float32"), 16000)
    return root


def _images(root: Path, n: int, seed: int) -> Path:
    """``root/red/*.png`` and ``root/blue/*.png`` of assorted sizes."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    for label, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            noise = rng.integers(-30, 30, size=(int(rng.integers(24, 48)), int(rng.integers(24, 48)), 3))
            Image.fromarray(np.clip(np.array(colour) + noise, 0, 255).astype("uint8")).save(root / label / f"{i}.png")
    return root


# -- one finished run per family: (run folder, held-out inputs in the card's form, the same for tuneforge) --

def text_classification(tmp, bert_dir):
    run = _finetune(tmp, task="text-classification", model={"name": str(bert_dir), "pooling": "mean"},
                    data={"train": _csv(tmp / "t.csv", sentiment_table(60, 0)), "validation": 0.2, "test": 0.2,
                          "max_length": 8})   # short: held-out texts are cut, as the card's call must cut them
    held = sentiment_table(12, 7)["text"].tolist()
    return run, held, held


def text_pairs(tmp, bert_dir):
    run = _finetune(tmp, task="text-classification", model={"name": str(bert_dir)},
                    data={"train": _csv(tmp / "p.csv", _pairs(60, 0)), "text_column": ["premise", "hypothesis"],
                          "validation": 0.2, "test": 0.2, "max_length": 16})
    held = _pairs(12, 7)
    pairs = list(zip(held["premise"], held["hypothesis"]))
    return run, [{"text": a, "text_pair": b} for a, b in pairs], pairs


def text_multilabel(tmp, bert_dir):
    path = tmp / "m.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _multilabel(80, 0)) + "\n", encoding="utf-8")
    run = _finetune(tmp, task="text-multilabel", model={"name": str(bert_dir)}, optimizer={"lr": 1e-2},
                    data={"train": str(path), "validation": 0.25, "test": 0.2, "max_length": 16,
                          "label_column": "labels"})
    held = [r["text"] for r in _multilabel(12, 7)]
    return run, held, held


def text_regression(tmp, bert_dir):
    run = _finetune(tmp, task="text-regression", model={"name": str(bert_dir), "pooling": "cls"},
                    data={"train": _csv(tmp / "r.csv", sentiment_table(60, 0)), "label_column": "score",
                          "validation": 0.2, "test": 0.2, "max_length": 16})
    held = sentiment_table(12, 7)["text"].tolist()
    return run, held, held


def token_classification(tmp, bert_dir):
    run = _finetune(tmp, task="token-classification", model={"name": str(bert_dir)}, optimizer={"lr": 1e-2},
                    data={"train": str(write_conll(tmp / "n.conll", ner_rows(80, 0))), "max_length": 12},
                    train={**QUICK["train"], "epochs": 2})
    held = [r["tokens"] for r in ner_rows(16, 7)]
    held[0] = held[0] + ["king.", "sea-port,", "(north", "city)"]   # words the tokenizer cuts punctuation off
    return run, held, [" ".join(words) for words in held]


def causal_lm(tmp, bert_dir, template=None):
    from helpers.tiny_lm import tiny_causal_lm
    lm = tiny_causal_lm(tmp / "lm")
    if template:
        from transformers import AutoTokenizer
        tokenizer = AutoTokenizer.from_pretrained(lm)
        tokenizer.chat_template = template
        tokenizer.save_pretrained(lm)
    rows = pd.DataFrame({"prompt": [f"the {w} is" for w in ("river", "king", "city", "farm") * 6],
                         "response": ["good"] * 24})
    run = _finetune(tmp, task="causal-lm", model={"name": str(lm)}, generate={"max_new_tokens": 4, "samples": 0},
                    data={"train": _csv(tmp / "c.csv", rows), "prompt_column": "prompt",
                          "response_column": "response", "validation": 0.2, "test": 0.2, "max_length": 16,
                          "clean": {"drop_duplicates": False}}, optimizer={"lr": 2e-2})
    held = ["the town is", "a day with the girl", "north city was"]
    return run, held, held


def causal_lm_chat(tmp, bert_dir):
    """The same with a chat template in the tokenizer: the card's pipeline gets chat messages."""
    return causal_lm(tmp, bert_dir, template=("{% for m in messages %}<s> {{ m['role'] }} {{ m['content'] }} </s> "
                                              "{% endfor %}{% if add_generation_prompt %}<s> assistant {% endif %}"))


def image_vit(tmp, bert_dir):
    from helpers.tiny import tiny_vit
    run = _finetune(tmp, task="image-classification", model={"name": str(tiny_vit(tmp / "vit"))},
                    data={"train": str(_images(tmp / "img", 10, 0)), "validation": 0.2, "test": 0.2,
                          "image_size": 32})
    return run, *_image_inputs(tmp)


def image_timm(tmp, bert_dir):
    from helpers.tiny import tiny_timm_cnn, TINY_TIMM_ARCH
    run = _finetune(tmp, task="image-classification",
                    model={"name": f"timm:{TINY_TIMM_ARCH}", "weights": str(tiny_timm_cnn(tmp / "cnn"))},
                    data={"train": str(_images(tmp / "img", 10, 0)), "validation": 0.2, "test": 0.2,
                          "image_size": 32})
    return run, *_image_inputs(tmp)


def image_timm_multilabel(tmp, bert_dir):
    """A timm CNN tagging images with any subset of labels: the card applies the saved thresholds to logits."""
    from helpers.tiny import tiny_timm_cnn, TINY_TIMM_ARCH
    files = sorted(_images(tmp / "img", 12, 0).rglob("*.png"))
    tags = [["red"] if "red" in f.parent.name else ["blue", "cold"] if i % 2 else ["blue"] for i, f in enumerate(files)]
    (tmp / "tags.jsonl").write_text("\n".join(json.dumps({"image": str(f), "labels": t}) for f, t in zip(files, tags)))
    run = _finetune(tmp, task="image-multilabel",
                    model={"name": f"timm:{TINY_TIMM_ARCH}", "weights": str(tiny_timm_cnn(tmp / "cnn"))},
                    data={"train": str(tmp / "tags.jsonl"), "label_column": "labels", "validation": 0.25,
                          "test": 0.2, "image_size": 32})
    return run, *_image_inputs(tmp)


def _image_inputs(tmp):
    from PIL import Image
    files = sorted(_images(tmp / "held", 4, 7).rglob("*.png"))
    images = [Image.open(f).convert("RGB") for f in files]
    return images, [np.asarray(im) for im in images]


def audio(tmp, bert_dir):
    from helpers.tiny import tiny_wav2vec2
    run = _finetune(tmp, task="audio-classification", model={"name": str(tiny_wav2vec2(tmp / "w2v"))},
                    data={"train": str(_tones(tmp / "tones", 8, 0)), "validation": None, "test": 0.25})
    import soundfile
    waves = [soundfile.read(f, dtype="float32")[0] for f in sorted(_tones(tmp / "held", 3, 7).rglob("*.wav"))]
    return run, [{"raw": w, "sampling_rate": 16000} for w in waves], [_clip(w) for w in waves]


def _clip(x) -> dict:
    """An audio input as `tuneforge predict` takes it."""
    return {"array": x["raw"], "sampling_rate": x["sampling_rate"]} if isinstance(x, dict) else \
        {"array": x, "sampling_rate": 16000}


FAMILIES = [text_classification, text_pairs, text_multilabel, text_regression, token_classification, causal_lm,
            causal_lm_chat, image_vit, image_timm, image_timm_multilabel, audio]


@pytest.fixture(scope="module", params=FAMILIES, ids=lambda f: f.__name__)
def family(request, bert_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param.__name__)
    run, card_inputs, our_inputs = request.param(tmp, bert_dir)
    return request.param.__name__, run.run_dir, card_inputs, our_inputs


def _same(name, card_predictions, ours):
    """Whether the card's ``predictions`` are tuneforge's ``predict`` rows, in each family's terms."""
    if name in ("text_multilabel", "image_timm_multilabel"):
        return [sorted(p) for p in card_predictions] == [sorted(r["labels"]) for r in ours]
    if name == "text_regression":
        return np.allclose(card_predictions, [r["value"] for r in ours], atol=1e-4)
    if name == "token_classification":
        return ([[(k, a, b) for k, a, b, _ in p] for p in card_predictions]
                == [[(e["entity"], e["first_word"], e["last_word"]) for e in r["entities"]] for r in ours])
    if name.startswith("causal_lm"):
        return card_predictions == [r["generated"] for r in ours]
    return card_predictions == [r["label"] for r in ours]


_INPUTS = re.compile(r"^(inputs|sentences|prompts|images) = .*$", re.M)


def test_the_cards_first_block_gives_tuneforges_predictions(family):
    name, run_dir, card_inputs, our_inputs = family
    card = run_dir / "model" / "README.md"
    assert not any(str(run_dir) in block for block in code_blocks(card))   # the card names its folder relatively

    ns = run_block(card)                                       # as written, with its own example inputs
    own = ns.get("inputs", ns.get("sentences", ns.get("prompts", ns.get("images"))))
    own = ([" ".join(w) for w in own] if name == "token_classification" else
           [(x["text"], x["text_pair"]) for x in own] if name == "text_pairs" else
           [np.asarray(im) for im in own] if name.startswith("image") else
           [_clip(x) for x in own] if name == "audio" else own)
    assert _same(name, ns["predictions"], predict_run(run_dir, own))

    block = code_blocks(card)[0]                               # the same block on held-out inputs
    (variable,) = {m.group(1) for m in _INPUTS.finditer(block)}
    held = _INPUTS.sub(f"{variable} = __held_out__", block)
    namespace = {"__held_out__": card_inputs}
    here = Path.cwd()
    try:
        import os
        os.chdir(run_dir / "model")
        exec(compile(held, str(card), "exec"), namespace)
    finally:
        os.chdir(here)
    ours = predict_run(run_dir, our_inputs)
    assert _same(name, namespace["predictions"], ours), (namespace["predictions"], ours)
    if name == "token_classification":
        assert any(r["entities"] for r in ours)                 # spans were compared, not only empty lists


def test_a_plain_load_gives_tuneforges_logits_or_names_trust_remote_code(family):
    import transformers

    name, run_dir, _, _ = family
    folder = run_dir / "model"
    meta = json.loads((folder / "tuneforge.json").read_text())
    reference = load_saved_model(folder).eval()
    if meta["kind"] == "timm":
        import timm
        plain = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
        pixels = torch.randn(2, 3, 32, 32)
        with torch.no_grad():
            assert torch.allclose(plain(pixels), reference(dict(pixel_values=pixels)), atol=1e-5)
        return
    from tuneforge.artefacts.card_usage import auto_class
    auto = getattr(transformers, auto_class(meta))
    coded = (folder / "tuneforge_pooling.py").is_file()
    assert coded == (name in ("text_classification", "text_regression"))   # mean / cls pooling on BERT
    if coded:
        with pytest.raises(ValueError, match="trust_remote_code=True"):
            auto.from_pretrained(folder)
        plain = auto.from_pretrained(folder, trust_remote_code=True).eval()
    else:
        plain = auto.from_pretrained(folder).eval()
    batch = _batch(name, folder, reference)
    with torch.no_grad():
        got = plain(**batch).logits
        expected = (reference.net(**batch).logits if name.startswith("causal_lm") else reference(dict(batch)))
    assert torch.allclose(got, expected, atol=1e-5)


def _batch(name, folder, reference) -> dict:
    from transformers import AutoFeatureExtractor, AutoImageProcessor, AutoTokenizer
    if name == "image_vit":
        return dict(AutoImageProcessor.from_pretrained(folder)(images=[np.zeros((32, 32, 3), "uint8")] * 2,
                                                                return_tensors="pt"))
    if name == "audio":
        extractor = AutoFeatureExtractor.from_pretrained(folder)
        return dict(extractor([np.sin(np.arange(8000) / 5.0).astype("float32")] * 2, sampling_rate=16000,
                              return_tensors="pt", return_attention_mask=True))
    tokenizer = AutoTokenizer.from_pretrained(folder)          # no trust_remote_code needed
    if name == "token_classification":
        return dict(tokenizer([["the", "king", "went"], ["north", "city"]], is_split_into_words=True,
                              padding=True, return_tensors="pt"))
    if name == "text_pairs":
        return dict(tokenizer(["a day", "the film"], ["was good", "bad"], padding=True, return_tensors="pt"))
    if name.startswith("causal_lm"):
        return dict(tokenizer(["the river is"], return_tensors="pt"))
    return dict(tokenizer(["the movie was great", "bad"], padding=True, return_tensors="pt"))


def test_an_adapter_card_on_a_converted_base_says_so_and_rebuilds_it():
    """SmolLM2's weights are de-quantised here from a Q4_1 GGUF file: the adapter's card must not send users
    to the hub's weights of the same name (they differ), and must show how to rebuild the base."""
    from tuneforge.artefacts.card_usage import adapter_usage
    from tuneforge.models.aliases import SMOLLM2_HUB_ID, SMOLLM2_SOURCE

    meta = {"kind": "hf", "modality": "lm-text", "auto_class": "AutoModelForCausalLM",
            "extra": {"task": "causal-lm", "recipe": {"data": {}}}}
    card = adapter_usage(Path("adapter"), meta, {}, SMOLLM2_HUB_ID, {"name": "smollm2-135m"}, SMOLLM2_SOURCE)
    assert "hub's weights of the same name are not the ones this adapter learnt against" in card
    code = code_blocks_of(card)[0]
    assert 'gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf"' in code and "dtype=torch.float32" in code
    assert f'BASE = "{SMOLLM2_HUB_ID}"' not in code and 'ADAPTER = "."' in code
    compile(code, "card", "exec")
    plain = adapter_usage(Path("adapter"), meta, {}, "models/my-lm", {"name": "models/my-lm"}, None)
    assert "Trained on the base model `models/my-lm`" in plain and "gguf" not in plain


def code_blocks_of(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)
