"""The "Loading" section of a run's model cards: code that loads ``model/`` or ``adapter/`` as written.

The first code block is the one to copy: for a Hugging Face model it is ``transformers.pipeline`` over
the folder, called so that its predictions are ``tuneforge predict``'s (the task writes the call:
``Task.card_pipeline``, with the saved thresholds applied); for a timm model, timm's own loader and
transform. The transformers class and its logits follow. Tests copy the first block out of the
written README.md, run it, and compare with tuneforge's predictions.

Cards travel with their folder: the code names the folder it describes as ``"."`` (run it from the
folder holding the README.md, or put that folder's path there), never this machine's absolute path.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..data.modalities import MODALITIES
from ..data.words import Words
from ..models.pooling_code import CLASS_NAME, CODE_FILE, CONFIG_NAME
from ..tasks import TASKS
from ..models.export import timm_usage

HERE = "."   # how a card names the folder it sits in
HERE_NOTE = "# this folder (the one holding this README.md): run from it, or put its path here"


def _inputs(meta: dict):
    """The saved model's modality (data/modalities.py: its preprocessor class, the call preparing two
    example inputs, the imports that call needs); text when ``tuneforge.json`` names none."""
    name = meta.get("modality") or "text"
    return MODALITIES.get(name if name in MODALITIES else "text")


def auto_class(meta: dict) -> str:
    """The transformers class the saved model is built as (``tuneforge.json``, else the run's task)."""
    if meta.get("auto_class"):
        return meta["auto_class"]
    task = (meta.get("extra") or {}).get("task")
    if task in TASKS:
        return TASKS.get(task).hf_auto_class()
    return MODALITIES.get(meta.get("modality") or "text").hf_example_head


def is_language_model(meta: dict) -> bool:
    """A causal LM keeps its pre-trained head: no labels, no new head, generation instead of scores."""
    return auto_class(meta) == "AutoModelForCausalLM"


def _variable(meta: dict) -> str:
    return _inputs(meta).preprocessor_variable


def _call(meta: dict) -> str:
    """The line preparing two example inputs (a text pair when the recipe reads two text columns)."""
    data = ((meta.get("extra") or {}).get("recipe") or {}).get("data") or {}
    if meta.get("auto_class") == "AutoModelForTokenClassification":
        return Words.card_call
    return _inputs(meta).card_example(data)


def _outputs(meta: dict) -> str:
    scale = (meta.get("extra") or {}).get("target_scale")
    if is_language_model(meta):
        return "generated = model.generate(**inputs, max_new_tokens=32)"
    if not meta.get("label_names"):
        return "prediction = model(**inputs).logits[..., 0]" + ("  # the target, in original units" if scale else "")
    return ("probabilities = model(**inputs).logits.softmax(-1)   # (sigmoid for multi-label)\n"
            "# class names: model.config.id2label")


def prompt_statement(meta: dict) -> str:
    """What ``model/`` holds after prompt or prefix tuning (empty for other runs)."""
    if not meta.get("prompt_adapter"):
        return ""
    what = "soft prompt" if meta.get("prompt_method") == "PROMPT_TUNING" else "prefix (keys and values per layer)"
    return (f"This folder holds the pre-trained weights **unchanged**: the run learnt a {what} with peft "
            f"({meta.get('prompt_method', '').lower().replace('_', ' ')}), which cannot be merged into the weights. "
            f"The fine-tuned part is `{meta['prompt_adapter']}/` (the same as the run's `adapter/`); loading the "
            f"weights here without it gives the pre-trained model.")


def _prompt_model_usage(model_dir: Path, meta: dict) -> str:
    lines = ["```python", "import torch", "from peft import PeftModel",
             "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
             f'MODEL = "{HERE}"   {HERE_NOTE}',
             "base = AutoModelForCausalLM.from_pretrained(MODEL)   # the unchanged pre-trained weights",
             f'model = PeftModel.from_pretrained(base, f"{{MODEL}}/{meta["prompt_adapter"]}").eval()   # + the learnt prompt',
             "tokenizer = AutoTokenizer.from_pretrained(MODEL)", _call(meta), "with torch.no_grad():",
             "    " + _outputs(meta), "```"]
    return prompt_statement(meta) + "\n\n" + "\n".join(lines) + "\n"


def model_usage(model_dir: Path, meta: dict, metrics: dict) -> str:
    """Loading ``model/``: a pipeline whose predictions are tuneforge's, then the transformers class and its
    logits (trusting the pooling file when there is one); timm's local-dir loader; after prompt learning, the
    base and its prompt with peft."""
    if meta.get("prompt_adapter"):
        return _prompt_model_usage(model_dir, meta)
    if meta.get("kind") == "timm":
        spec = meta.get("image") or {}
        task = (meta.get("extra") or {}).get("task")
        decision = TASKS.get(task).card_logits_decision(model_dir) if task in TASKS else None
        return timm_usage(meta.get("architecture", "?"), int(meta["num_outputs"]), HERE,
                          int(spec.get("size", 224)), spec.get("mean"), spec.get("std"), decision)
    code = (model_dir / CODE_FILE).is_file()
    trust = ", trust_remote_code=True" if code else ""
    first = _pipeline_block(model_dir, meta, trust)
    cls, pre_cls, call = auto_class(meta), _inputs(meta).preprocessor_class, _call(meta)
    lines = ["```python", "import torch", f"from transformers import {cls}, {pre_cls}",
             *_inputs(meta).card_imports, "",
             f'MODEL = "{HERE}"   {HERE_NOTE}', f"model = {cls}.from_pretrained(MODEL{trust}).eval()",
             f"{_variable(meta)} = {pre_cls}.from_pretrained(MODEL{trust})", call, "with torch.no_grad():",
             "    " + _outputs(meta).replace("\n", "\n    "), "```"]
    note = ("" if not code else
            f"\n`{CODE_FILE}` (read it first: it imports only torch and transformers) pools the token states as "
            f"training did (`{(metrics.get('pooling') or {}).get('how')}`). `config.json`'s model type is defined "
            "only there, so loading the folder without `trust_remote_code=True` stops with an error naming it, "
            "rather than building transformers' own class, which would pool otherwise and predict other labels. "
            "The tokenizer is transformers' own; `trust_remote_code=True` on it only spares the question "
            "transformers asks when it reads this `config.json` in an interactive session.\n")
    if not first:
        return "\n".join(lines) + "\n" + note
    return (first + "\n### The model and its logits\n\n" + "\n".join(lines) + "\n" + note)


def _pipeline_block(model_dir: Path, meta: dict, load_args: str) -> str:
    """The card's first block: ``transformers.pipeline`` as the run's task calls it, or "" when none does."""
    task = (meta.get("extra") or {}).get("task")
    data = ((meta.get("extra") or {}).get("recipe") or {}).get("data") or {}
    found = TASKS.get(task).card_pipeline(model_dir, _inputs(meta), data, load_args) if task in TASKS else None
    if not found:
        return ""
    imports, body = found
    lines = ["```python", *imports, "from transformers import pipeline", *_inputs(meta).card_imports, "",
             f'MODEL = "{HERE}"   {HERE_NOTE}', *body, "```"]
    return ("`predictions` below are what `tuneforge predict` gives for the same inputs:\n\n"
            + "\n".join(lines) + "\n")


def adapter_usage(adapter: Path, meta: dict, metrics: dict, base: str, section: dict,
                  converted: Optional[dict] = None) -> str:
    """Loading ``adapter/`` on its base model with peft. ``converted``: where the base's weights were
    converted on the training machine (``ModelSpec.converted_from``), so the card rebuilds that base."""
    if meta.get("kind") == "timm":
        return _timm_adapter_usage(adapter, meta, base)
    cls, code = auto_class(meta), (adapter / CODE_FILE).is_file()
    pre_cls, call = _inputs(meta).preprocessor_class, _call(meta)
    alias_note = (f"   # offline: a local copy of it (`tuneforge show model {section.get('name')}` says where)"
                  if base != section.get("name") and not converted else "")
    lines = ["```python", "import torch", "from peft import PeftModel",
             f"from transformers import AutoConfig, {cls}, {pre_cls}",
             *_inputs(meta).card_imports, ""]
    if converted:
        lines += _rebuild_lines(converted)
    else:
        lines.append(f'BASE = "{base}"{alias_note}')
    lines.append(f'ADAPTER = "{HERE}"   {HERE_NOTE}')
    what = ("the fine-tuned model's config" if is_language_model(meta)
            else "the task's head: num_labels, id2label, problem_type")
    if code:
        lines += ["# the pooling the head was trained on (tuneforge_pooling.py: torch and transformers only)",
                  "import importlib.util",
                  f'spec = importlib.util.spec_from_file_location("tuneforge_pooling", f"{{ADAPTER}}/{CODE_FILE}")',
                  "pooling = importlib.util.module_from_spec(spec)", "spec.loader.exec_module(pooling)",
                  f"config = pooling.{CONFIG_NAME}.from_pretrained(ADAPTER)   # {what}",
                  f"base = pooling.{CLASS_NAME}.from_pretrained(BASE, config=config)"]
    else:
        lines.append(f"config = AutoConfig.from_pretrained(ADAPTER)   # {what}")
        lines.append(f"base = {cls}.from_pretrained(BASE, config=config)"
                     + ("" if is_language_model(meta) else "   # its head: from the adapter"))
    prompt = bool(meta.get("prompt_adapter"))
    lines += ["model = PeftModel.from_pretrained(base, ADAPTER).eval()   " + (
              "# a prompt: it cannot be merged into the weights" if prompt else
              "# model.merge_and_unload() for a plain model"),
              f"{_variable(meta)} = {pre_cls}.from_pretrained(ADAPTER)", call, "with torch.no_grad():",
              "    " + _outputs(meta).replace("\n", "\n    "), "```"]
    scale = (meta.get("extra") or {}).get("target_scale")
    note = ("" if not scale else
            f"\nThe adapter's head predicts the standardised target: multiply by {scale['std']!r} and add "
            f"{scale['mean']!r} for original units (`model/` has this folded into its head).\n")
    intro = ("The adapter holds the learnt virtual tokens (peft prompt learning), applied before every input; "
             "the base model's weights are used unchanged, and `generate` puts the prompt first." if prompt else
             "The adapter holds the low-rank updates; the language-model head is the base model's own." if
             is_language_model(meta) else "The adapter holds the low-rank updates and the new head (`modules_to_save`); "
             "`config.json` beside it gives the head's size and labels, so nothing is passed by hand.")
    return intro + "\n\n" + base_statement(base, converted) + "\n".join(lines) + "\n" + note


def base_statement(base: str, converted: Optional[dict]) -> str:
    """Which base the adapter was trained on, in words (a paragraph ending in a blank line)."""
    if not converted:
        return f"Trained on the base model `{base}`; load that same base under it.\n\n"
    return (f"Trained on `{base}` **as converted on the training machine**: de-quantised to float32 from the "
            f"{converted.get('quantisation', 'quantised')} GGUF file `{converted['file']}` of the pip package "
            f"`{converted['package'].replace('_', '-')}`. The hub's weights of the same name are not the ones this "
            "adapter learnt against (they were not quantised), so loading it on them gives other outputs. The "
            f"block below rebuilds that base once (`{converted['pip']}`) into the folder `BASE` and loads the "
            "adapter on it.\n\n")


def _rebuild_lines(converted: dict) -> list[str]:
    """Card lines that rebuild a converted base (a GGUF file de-quantised) into a local folder ``BASE``."""
    return ["import importlib.util", "import os", "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
            f'BASE = "{converted["package"]}-dequantised"   # rebuilt here once from the GGUF file, as tuneforge did',
            "if not os.path.isdir(BASE):",
            f'    package = importlib.util.find_spec("{converted["package"]}").submodule_search_locations[0]'
            f'   # {converted["pip"]}',
            f'    lm = AutoModelForCausalLM.from_pretrained(package, gguf_file="{converted["file"]}",',
            "                                              dtype=torch.float32)",
            "    plain = AutoModelForCausalLM.from_config(lm.config, dtype=torch.float32)   # not the GGUF loading path",
            "    plain.load_state_dict(lm.state_dict())",
            "    plain.config.quantization_config = None",
            "    plain.save_pretrained(BASE)",
            f'    AutoTokenizer.from_pretrained(package, gguf_file="{converted["file"]}").save_pretrained(BASE)']


def _timm_adapter_usage(adapter: Path, meta: dict, base: str) -> str:
    arch, n = meta.get("architecture", "?"), int(meta["num_outputs"])
    source = (f'timm.create_model("hf-hub:{base}", pretrained=True, num_classes={n})' if base.startswith("timm/")
              else f'timm.create_model("{arch}", pretrained=True, num_classes={n},\n'
                   f'                        pretrained_cfg_overlay=dict(file="{base}"))')
    return "\n".join([
        "```python", "import timm", "from peft import PeftModel", "",
        f"base = {source}", f'model = PeftModel.from_pretrained(base, "{HERE}").eval()   {HERE_NOTE}', "```", "",
        "The base is built with a fresh classifier (the adapter holds the trained one); BatchNorm statistics are "
        "the pre-trained ones, as during training. Inputs are prepared as for `model/` (see its README)."])


def onnx_usage(model_dir: Path) -> str:
    """Running ``model.onnx`` with onnxruntime, when ``tuneforge export --onnx`` wrote one."""
    import json
    info_file = model_dir / "onnx.json"
    if not info_file.is_file() or not (model_dir / "model.onnx").is_file():
        return ""
    info = json.loads(info_file.read_text(encoding="utf-8"))
    feeds = ", ".join(f'"{n}": inputs["{n}"].numpy()' for n in info["inputs"])
    return "\n".join([
        "", "### ONNX", "",
        f"`model.onnx` (opset {info.get('opset')}; inputs {', '.join(info['inputs'])}, output `logits`, dynamic "
        f"batch{' and sequence' if any('sequence' in str(v) for v in info['inputs'].values()) else ''} axes) gave "
        f"PyTorch's outputs within {info['max_abs_diff']:.2g} on {info['checked_examples']} examples of the run's "
        "data (`onnx.json` holds the details and the preprocessing).", "",
        "```python", "import onnxruntime", 'session = onnxruntime.InferenceSession("model.onnx")   # in this folder',
        f"logits = session.run([\"logits\"], {{{feeds}}})[0]   # inputs prepared as above, with return_tensors=\"pt\"",
        "```", ""])
