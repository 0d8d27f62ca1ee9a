"""Model cards for a finished run: ``model/README.md`` and, after an adapter strategy, ``adapter/README.md``.

A card says what the model is (task, base model, strategy, pooling), its labels, its test
metrics with their bootstrap intervals beside the pre-trained baseline, the resolved recipe,
and loading code that works as written. Everything comes from the run folder alone
(``metrics.json``, ``recipe.yaml``, ``model/``), so ``tuneforge export RUN`` rewrites the cards
of older runs too.

The ``adapter/`` folder is made loadable without tuneforge and without passing the head's
size by hand: its ``adapter_config.json`` names a stable base model (the hub id of an alias'
model, or ``model.name`` as the recipe gives it; never this machine's site-packages path), and
it receives ``model/``'s ``config.json`` (``num_labels``, ``id2label``, ``problem_type``, the
pooling), its pooling code and its tokenizer or processor. The documented way is then::

    config = AutoConfig.from_pretrained(ADAPTER)
    base = AutoModelForSequenceClassification.from_pretrained(BASE, config=config)
    model = PeftModel.from_pretrained(base, ADAPTER)

The adapter's card says which base it learnt against; where that base was converted here (SmolLM2,
de-quantised from a Q4_1 GGUF file), it says the hub's weights of the same name differ and rebuilds
the base from the GGUF file. Cards name their own folder as ``"."`` (see :mod:`.card_usage`).

Example::

    write_model_cards(Path("runs/demo-20261204-031500"))
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Optional

from ..models.aliases import resolve_alias
from ..models.pooling_code import CODE_FILE, upgrade_pooling_code
from . import card_usage

ADAPTER_CONFIG = "adapter_config.json"


def write_model_cards(run_dir) -> list[Path]:
    """Write ``model/README.md`` (and complete ``adapter/``); returns the cards written."""
    run_dir = Path(run_dir).resolve()
    model_dir = run_dir / "model"
    if not (model_dir / "tuneforge.json").is_file() or not (run_dir / "metrics.json").is_file():
        return []
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    meta = json.loads((model_dir / "tuneforge.json").read_text(encoding="utf-8"))
    recipe_text = (run_dir / "recipe.yaml").read_text(encoding="utf-8") if (run_dir / "recipe.yaml").is_file() else ""
    upgrade_pooling_code(model_dir)   # a folder the previous version wrote: a plain load must not fall back silently
    section = ((meta.get("extra") or {}).get("recipe") or {}).get("model") or {"name": meta.get("source")}
    base = stable_base_name(section)
    about = _about(metrics, meta, base)
    written = [model_dir / "README.md"]
    usage = card_usage.model_usage(model_dir, meta, metrics) + card_usage.onnx_usage(model_dir)
    what = "the pre-trained weights and the learnt prompt" if meta.get("prompt_adapter") else "the fine-tuned model"
    written[0].write_text(_card(what, about, metrics, meta, recipe_text, usage), encoding="utf-8")
    adapter = run_dir / "adapter"
    if (adapter / ADAPTER_CONFIG).is_file():
        _complete_adapter(adapter, model_dir, meta, base)
        usage = card_usage.adapter_usage(adapter, meta, metrics, base, section, converted_base(section))
        (adapter / "README.md").write_text(_card("the adapter alone (peft)", about, metrics, meta, recipe_text, usage),
                                           encoding="utf-8")
        written.append(adapter / "README.md")
    return written


def write_model_cards_quietly(run_dir, console) -> None:
    """Write the cards at the end of a run; a failure is a warning and never fails the finished run."""
    try:
        write_model_cards(run_dir)
    except Exception as e:  # the model and metrics are saved; `tuneforge export RUN` writes the cards again
        console.print(f"[yellow]warning[/yellow] the model card could not be written ({e!r}); "
                      f"try `tuneforge export {run_dir}`")


def stable_base_name(section: dict) -> str:
    """What an exported adapter names as its base model.

    An alias names its model's hub id (``sentence-transformers/all-MiniLM-L6-v2``); a timm model
    its weights file as the recipe gives it (or the alias' hub id); anything else ``model.name``
    as written in the recipe (a local folder stays the user's own path, a hub id stays one).
    """
    name = str(section.get("name") or "")
    try:
        spec = resolve_alias(name, peek=True)
    except Exception:  # the alias' package is gone: the name as written is still stable
        spec = None
    if spec is not None and spec.hub_id and not section.get("weights"):
        return spec.hub_id
    if section.get("weights"):
        return str(section["weights"])
    return name


def converted_base(section: dict) -> Optional[dict]:
    """Where an alias' weights were converted on this machine (a GGUF file de-quantised), or None when the
    base is the hub's (or the user's own) weights as named."""
    try:
        spec = resolve_alias(str(section.get("name") or ""), peek=True)
    except Exception:  # the alias' package is gone: nothing more is known
        return None
    return getattr(spec, "converted_from", None) if spec is not None and not section.get("weights") else None


def _complete_adapter(adapter: Path, model_dir: Path, meta: dict, base: str) -> None:
    """Point the adapter at its stable base and give it what loading it needs beside the weights."""
    config_file = adapter / ADAPTER_CONFIG
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = base
    if config.get("tokenizer_name_or_path"):   # prompt tuning from text: the tokenizer of this machine's base folder
        config["tokenizer_name_or_path"] = base
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if meta.get("kind") != "hf":
        return
    shutil.copyfile(model_dir / "config.json", adapter / "config.json")
    (adapter / CODE_FILE).unlink(missing_ok=True)
    if (model_dir / CODE_FILE).is_file():
        shutil.copyfile(model_dir / CODE_FILE, adapter / CODE_FILE)
    for name in _preprocessor_files(model_dir):
        shutil.copyfile(model_dir / name, adapter / name)


_PREPROCESSOR_FILES = ("tokenizer", "vocab", "merges", "special_tokens_map", "added_tokens", "spiece",
                       "sentencepiece", "chat_template", "preprocessor_config")


def _preprocessor_files(model_dir: Path) -> list[str]:
    """The tokenizer / image processor / feature extractor files of a saved Hugging Face model."""
    return sorted(p.name for p in model_dir.iterdir() if p.is_file() and p.name.startswith(_PREPROCESSOR_FILES))


def _about(metrics: dict, meta: dict, base: str) -> dict:
    strategy = ((meta.get("extra") or {}).get("recipe") or {}).get("strategy") or metrics.get("strategy") or {}
    options = {k: v for k, v in strategy.items() if k not in ("name", "plan") and v is not None}
    return {"task": metrics.get("task"), "model": metrics.get("model"), "base": base,
            "strategy": strategy.get("name"), "options": options, "kind": meta.get("kind"),
            "pooling": (metrics.get("pooling") or {}).get("how")}


def _card(what: str, about: dict, metrics: dict, meta: dict, recipe_text: str, usage: str) -> str:
    options = ", ".join(f"{k}={v}" for k, v in about["options"].items() if not isinstance(v, (dict, list)))
    lines = [f"# {about['model']} fine-tuned for {about['task']} with tuneforge: {what}", "",
             f"- task: `{about['task']}`",
             f"- base model: `{about['base']}`" + (f" (recipe `model.name: {about['model']}`)"
                                                 if about["base"] != about["model"] else ""),
             f"- strategy: `{about['strategy']}`" + (f" ({options})" if options else ""),
             *([f"- pooling: `{about['pooling']}`"] if about["pooling"] else []),
             f"- trained: {_train_line(metrics)}", "", "## Labels", "", _labels(meta), "",
             "## Test metrics", "", *_metric_table(metrics), "", "## Loading", "", usage.strip(), "",
             "## Recipe", "", "The resolved recipe (`recipe.yaml` of the run): `tuneforge run recipe.yaml` repeats "
             "the run.", "", "```yaml", recipe_text.strip(), "```", ""]
    return "\n".join(lines)


def _train_line(metrics: dict) -> str:
    train, data = metrics.get("train") or {}, (metrics.get("data") or {}).get("sizes") or {}
    sizes = ", ".join(f"{k} {v}" for k, v in data.items())
    return (f"{train.get('steps', '?')} steps, {train.get('trainable_parameters', '?'):,} of "
            f"{train.get('total_parameters', '?'):,} parameters trained" + (f"; examples: {sizes}" if sizes else "")) \
        if isinstance(train.get("trainable_parameters"), int) and isinstance(train.get("total_parameters"), int) \
        else f"{train.get('steps', '?')} steps"


def _labels(meta: dict) -> str:
    names = meta.get("label_names")
    if card_usage.is_language_model(meta):
        return "A language model: it predicts the next token over its vocabulary (no class labels)."
    if not names:
        scale = (meta.get("extra") or {}).get("target_scale")
        return "Regression: one output" + (", in the target's original units" if scale else "") + "."
    return "\n".join(f"{i}. `{n}`" for i, n in enumerate(names))


def _metric_table(metrics: dict) -> list[str]:
    test, ci = metrics.get("test") or {}, metrics.get("test_ci") or {}
    if not test:
        return ["No test split was evaluated."]
    names = [n for n in ((metrics.get("columns") or {}).get("headline") or sorted(test))
             if isinstance(test.get(n), (int, float))]
    baseline, majority = metrics.get("baseline") or {}, metrics.get("baseline_majority") or {}
    level = f"{metrics['confidence']:.0%} interval" if metrics.get("confidence") else "interval"
    base_name = metrics.get("baseline_name") or "baseline"
    rows = [f"| metric | fine-tuned | {level} | {base_name} | majority class |", "|---|---|---|---|---|"]
    for n in names:
        low_high = ci.get(n)
        rows.append(f"| {n} | {_num(test.get(n))} | "
                    f"{f'[{_num(low_high[0])}, {_num(low_high[1])}]' if low_high else '-'} | "
                    f"{_num(baseline.get(n))} | {_num(majority.get(n))} |")
    examples = ((metrics.get("data") or {}).get("sizes") or {}).get("test")
    if examples:
        rows += ["", f"On the run's held-out test split ({examples} examples); intervals by bootstrap "
                     f"({metrics.get('bootstrap', '?')} resamples)."]
    return rows


def _num(value: Optional[float]) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "-"

