"""Read a recipe: YAML file or dict, plus dotted ``key=value`` overrides, into a :class:`Recipe`.

Every problem is collected and reported at once (unknown keys with a "did you mean",
wrong types, values out of range), before anything heavy happens.

Example::

    recipe = load_recipe("recipes/demo.yaml", ["optimizer.lr=3e-5", "train.epochs=2"])
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterable, Mapping, Union

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import RecipeError
from ..registry import did_you_mean
from .schema import Recipe

RecipeSource = Union[str, Path, Mapping[str, Any], Recipe]

# The Hugging Face Trainer's names (TrainingArguments) for settings tuneforge names otherwise: a user
# coming from the Trainer types these, and a spelling-based "did you mean" would point elsewhere.
TRAINER_VOCABULARY = {
    "learning_rate": "optimizer.lr",
    "weight_decay": "optimizer.weight_decay",
    "adam_beta1": "optimizer.betas", "adam_beta2": "optimizer.betas",
    "gradient_accumulation_steps": "train.grad_accum",
    "warmup_steps": "scheduler.warmup (a step count when >= 1)",
    "warmup_ratio": "scheduler.warmup (a fraction when < 1)",
    "lr_scheduler_type": "scheduler.name",
    "num_train_epochs": "train.epochs",
    "per_device_train_batch_size": "train.batch_size",
    "per_device_eval_batch_size": "evaluate.batch_size",
    "max_grad_norm": "train.grad_clip",
    "fp16": "train.precision (fp16, bf16, fp32 or auto)", "bf16": "train.precision (fp16, bf16, fp32 or auto)",
    "eval_steps": "train.eval_every_steps", "save_steps": "train.save_every_steps",
    "save_total_limit": "train.keep_checkpoints",
    "load_best_model_at_end": "train.restore_best",
    "metric_for_best_model": "evaluate.metric",
    "early_stopping_patience": "train.early_stopping.patience",
    "output_dir": "output.dir",
    "group_by_length": "train.group_by_length",
    "label_smoothing_factor": "train.label_smoothing",
    "gradient_checkpointing": "train.gradient_checkpointing",
    "dataloader_num_workers": "train.workers",
    "torch_compile": "train.compile", "torch_compile_backend": "train.compile_backend",
}


def parse_override(text: str) -> tuple[str, Any]:
    """``"optimizer.lr=3e-5"`` -> ``("optimizer.lr", 3e-05)``; values are read as YAML scalars."""
    if "=" not in text:
        raise RecipeError(f"override {text!r} is not of the form dotted.key=value (e.g. optimizer.lr=3e-5)")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise RecipeError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    if isinstance(value, float) or (isinstance(value, str) and _looks_numeric(value)):
        try:
            value = float(value) if not isinstance(value, float) else value
        except ValueError:
            pass
    return key, value


def _looks_numeric(s: str) -> bool:
    # YAML 1.1 reads "3e-5" as a string; a user means a number.
    try:
        float(s)
        return not s.strip().lower() in ("nan", "inf", "-inf", "infinity")
    except ValueError:
        return False


def set_dotted(tree: dict, key: str, value: Any) -> None:
    node = tree
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise RecipeError(f"override {key}: {part!r} is a value, not a section")
        node = child
    node[parts[-1]] = value


def read_recipe_tree(source: RecipeSource) -> tuple[dict, Path | None]:
    """The raw recipe as a dict, and the folder relative paths in it are resolved from."""
    if isinstance(source, Recipe):
        return source.model_dump(mode="python"), None
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source)), None
    path = Path(source)
    if not path.exists():
        raise RecipeError(f"recipe file {path} does not exist")
    if path.is_dir():
        if (path / "recipe.yaml").is_file():  # a run folder
            path = path / "recipe.yaml"
        else:
            raise RecipeError(f"{path} is a folder without a recipe.yaml; give a recipe file")
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise RecipeError(f"recipe file {path} is not UTF-8 text") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise RecipeError(f"recipe file {path} is not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    if tree is None:
        raise RecipeError(f"recipe file {path} is empty")
    if not isinstance(tree, dict):
        raise RecipeError(f"recipe file {path} must hold a mapping of sections (task, model, data, ...)")
    return tree, path.parent


def recipe_tree(source: RecipeSource, overrides: Iterable[str] | Mapping[str, Any] = ()) -> dict:
    """The raw recipe with overrides applied (not validated yet)."""
    tree, _ = read_recipe_tree(source)
    items = overrides.items() if isinstance(overrides, Mapping) else (parse_override(o) for o in overrides)
    for key, value in items:
        set_dotted(tree, key, value)
    return tree


def load_recipe(source: RecipeSource, overrides: Iterable[str] | Mapping[str, Any] = ()) -> Recipe:
    """Build a validated :class:`Recipe`; raise :class:`RecipeError` listing every problem."""
    tree = recipe_tree(source, overrides)
    try:
        return Recipe.model_validate(tree)
    except ValidationError as e:
        raise RecipeError(problems=[_describe(err, tree) for err in e.errors()]) from None


def schema_problems(tree: dict) -> tuple[Recipe | None, list[str]]:
    """Validate the raw tree; on errors, also return a recipe with the bad keys dropped (when one can be
    built) so that further checks (files, columns, model) can still run and report their problems too."""
    try:
        return Recipe.model_validate(tree), []
    except ValidationError as e:
        errors = e.errors()
    problems = [_describe(err, tree) for err in errors]
    pruned = copy.deepcopy(tree)
    for err in errors:
        _drop(pruned, [p for p in err["loc"]])
    try:
        return Recipe.model_validate(pruned), problems
    except ValidationError:
        return None, problems


def _drop(tree, loc) -> None:
    node = tree
    for part in loc[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return
    if isinstance(node, dict):
        node.pop(loc[-1], None)


def _describe(err: dict, tree: dict) -> str:
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        fields = _fields_at(Recipe, loc[:-1])
        if loc[-1] in TRAINER_VOCABULARY:
            return (f"{key}: unknown key; tuneforge calls this {TRAINER_VOCABULARY[loc[-1]]}; "
                    f"known keys here: {', '.join(fields)}")
        hint = did_you_mean(loc[-1], fields)
        return f"{key}: unknown key{hint}; known keys here: {', '.join(fields)}"
    if kind == "missing":
        return f"{key}: required but missing"
    value = err.get("input")
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    msg = err["msg"].removeprefix("Value error, ")
    got = "" if "(got " in msg else f" (got {shown})"  # a validator that already said what it got
    return f"{key}: {msg[:1].lower() + msg[1:]}{got}"


def _fields_at(model: type[BaseModel], path: list[str]) -> list[str]:
    for part in path:
        if part.isdigit():  # an item of a list section (tasks.0.name): same model as the list's
            continue
        field = model.model_fields.get(part)
        nxt = _model_in(getattr(field, "annotation", None))
        if nxt is None:
            return []
        model = nxt
    return list(model.model_fields)


def _model_in(annotation) -> type[BaseModel] | None:
    """The section model inside an annotation (``Optional[X]``, ``list[X]``...), or None."""
    if isinstance(annotation, type) and not getattr(annotation, "__args__", None) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def recipe_to_yaml(recipe: Recipe) -> str:
    """The fully resolved recipe as YAML (every default written out)."""
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
