"""Discovery: every registry a recipe can name, listable with its options and defaults.

``tuneforge list`` shows every registry, grouped; ``tuneforge list strategies --verbose`` adds each
entry's options (type, default, description); ``tuneforge show strategy lora`` shows one entry.
A registry becomes listable by adding one :class:`Listable` to :data:`LISTABLES`.

Example::

    from rich.console import Console
    print_listing(Console(), "regularisers", verbose=True)
    print_entry(Console(), "strategy", "lora")
"""
from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from pydantic import BaseModel
from pydantic_core import PydanticUndefined
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from .errors import TuneforgeError
from .listing_cache import cached_listing
from .recipe.schema import Recipe
from .registry import Registry, did_you_mean


@dataclass(frozen=True)
class OptionRow:
    """One option of a registered component: ``name: type = default  description``."""

    name: str
    type: str
    default: str
    description: str


@dataclass(frozen=True)
class Listable:
    """A registry as the command line shows it.

    ``registry`` is imported lazily (listing must not import torch-heavy modules twice over);
    ``where`` is the recipe key that names an entry; ``options`` gives an entry's options and
    ``facts`` any other short facts about it (splits of a data set, kind of a task...).
    """

    plural: str
    singular: str
    where: str
    registry: Callable[[], Registry]
    options: Callable[[str, Any], list[OptionRow]] = lambda name, obj: []
    facts: Callable[[str, Any], dict[str, str]] = lambda name, obj: {}
    aliases: tuple[str, ...] = field(default_factory=tuple)


def model_options(model: type[BaseModel], skip: tuple[str, ...] = ("name",)) -> list[OptionRow]:
    """The fields of a pydantic options model as rows (``...`` marks a required option)."""
    rows = []
    for name, f in model.model_fields.items():
        if name in skip:
            continue
        if f.default is PydanticUndefined and f.default_factory is None:
            default = "(required)"
        else:
            default = _as_yaml(f.get_default(call_default_factory=True))
        rows.append(OptionRow(name, _type_name(f.annotation), default, f.description or ""))
    return rows


def _as_yaml(value: Any) -> str:
    """A default as a recipe would spell it (null, true, 0.001, 'frozen')."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return repr(list(value)) if isinstance(value, tuple) else repr(value)


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(annotation))
    if origin is typing.Union:
        return " | ".join("null" if a is type(None) else _type_name(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(annotation, "__name__", str(annotation))


def _class_options(name, cls) -> list[OptionRow]:
    options = getattr(cls, "Options", None)
    return model_options(options) if isinstance(options, type) and issubclass(options, BaseModel) else []


def _section_options(section: str, applies: Callable[[str, OptionRow], bool] = lambda n, r: True):
    def options(name, obj) -> list[OptionRow]:
        model = Recipe.model_fields[section].annotation
        return [r for r in model_options(model) if applies(name, r)]
    return options


def _optimizer_applies(name: str, row: OptionRow) -> bool:
    specific = {"betas": {"adamw"}, "momentum": {"sgd", "rmsprop"}}
    return name in specific.get(row.name, {name})


def _task_facts(name, task) -> dict[str, str]:
    return {"input": task.modality, "predicts": task.metric_kind, "default metric": task.default_metric()}


def _dataset_facts(name, loader) -> dict[str, str]:
    facts = {"splits": ", ".join(getattr(loader, "splits", ()) or ()),
             "columns": ", ".join(getattr(loader, "columns", ()) or ())}
    classes = getattr(loader, "classes", None)
    if classes:
        facts["classes"] = ", ".join(classes)
    return {k: v for k, v in facts.items() if v}


def _metric_facts(name, fn) -> dict[str, str]:
    from .evaluation import metrics
    kind = getattr(metrics, "_KIND", {}).get(name)
    kind = ", ".join(sorted(kind)) if isinstance(kind, (set, frozenset, list, tuple)) else kind
    lower = name in getattr(metrics, "_LOWER_IS_BETTER", set())
    return {**({"for": kind} if kind else {}), "better": "lower" if lower else "higher"}


def _model_facts(name, spec_fn) -> dict[str, str]:
    from pathlib import Path

    from .models.aliases import resolve_alias
    try:
        spec = resolve_alias(name, peek=True)  # never converts weights just to describe them
    except TuneforgeError as e:  # the alias's package is missing: say so instead of failing
        return {"unavailable": str(e)}
    facts = {"kind": spec.kind, "input": spec.modality}
    if spec.kind == "timm":
        facts["architecture"] = spec.path
    elif any(Path(spec.path).glob("*.safetensors")):
        facts["folder"] = spec.path
    if spec.weights:
        facts["weights"] = spec.weights
    if spec.size:
        facts["image size"] = str(spec.size)
    return facts


def _reg(module: str, attr: str) -> Callable[[], Registry]:
    def get() -> Registry:
        import importlib
        return getattr(importlib.import_module(module, __package__), attr)
    return get


def _augmentations() -> Registry:
    """Every ``data.augment`` name, then the presets (a preset stands for a list of them)."""
    from .data.augment import AUGMENTATIONS, PRESETS
    reg = Registry("augmentation")
    for name, desc in AUGMENTATIONS.describe().items():
        reg.register(name, desc)(AUGMENTATIONS.get(name))
    for name, (desc, _) in PRESETS.items():
        reg.register(name, f"preset: {desc}")(name)
    return reg


def _space_facts(name, build) -> dict[str, str]:
    from .search.space import parse_dimension
    return {f"  {k}": parse_dimension(k, v).describe().split(": ", 1)[-1] for k, v in build().items()}


def _augmentation_options(name, obj) -> list[OptionRow]:
    return model_options(obj.options) if hasattr(obj, "options") else []


def _augmentation_facts(name, obj) -> dict[str, str]:
    from .data.augment import parse_augment
    if isinstance(obj, str):  # a preset
        steps = parse_augment(obj)
        return {"expands to": "; ".join(", ".join([s["name"]] + [f"{k}={v}" for k, v in s.items() if k != "name"])
                                        for s in steps) or "nothing"}
    return {"applies to": "each batch (blends images and labels)" if obj.per_batch else "each training image"}


LISTABLES: list[Listable] = [
    Listable("models", "model", "model.name", _reg(".models", "MODELS"), facts=_model_facts),
    Listable("tasks", "task", "task", _reg(".tasks", "TASKS"), facts=_task_facts),
    Listable("strategies", "strategy", "strategy.name", _reg(".strategies", "STRATEGIES"), options=_class_options),
    Listable("regularisers", "regulariser", "regularisers[].name", _reg(".regularisers", "REGULARISERS"),
             options=_class_options, aliases=("regularizers", "regularizer")),
    Listable("metrics", "metric", "evaluate.metric", _reg(".evaluation", "METRICS"), facts=_metric_facts),
    Listable("optimizers", "optimizer", "optimizer.name", _reg(".training", "OPTIMIZERS"),
             options=_section_options("optimizer", _optimizer_applies), aliases=("optimisers", "optimiser")),
    Listable("schedulers", "scheduler", "scheduler.name", _reg(".training", "SCHEDULERS"),
             options=_section_options("scheduler")),
    Listable("datasets", "dataset", "data.train", _reg(".data.packaged", "DATASETS"), facts=_dataset_facts,
             aliases=("data-sets", "data", "data set")),
    Listable("augmentations", "augmentation", "data.augment[]", _augmentations, options=_augmentation_options,
             facts=_augmentation_facts),
    Listable("search-spaces", "search-space", "search.space", _reg(".search", "SEARCH_SPACES"), facts=_space_facts,
             aliases=("spaces", "space", "search")),
    Listable("trackers", "tracker", "output.trackers[]", _reg(".training.trackers", "TRACKERS")),
]


def find_listable(what: str) -> Listable:
    """The listable named ``what`` (plural, singular or an alias), or a TuneforgeError naming the choices."""
    for item in LISTABLES:
        if what in (item.plural, item.singular, *item.aliases):
            return item
    names = [i.plural for i in LISTABLES]
    spellings = names + [i.singular for i in LISTABLES]
    hint = did_you_mean(what, spellings)
    raise TuneforgeError(f"cannot list {what!r}{hint}; choose one of: {', '.join(names)}")


def print_listing(console: Console, what: Optional[str] = None, verbose: bool = False) -> None:
    """Every registry, grouped (``what`` None), or one registry; ``verbose`` adds each entry's options."""
    items = LISTABLES if what is None else [find_listable(what)]
    listing = None if verbose else cached_listing(lambda: {i.plural: i.registry().describe() for i in LISTABLES})
    for i, item in enumerate(items):
        if len(items) > 1:
            console.print(("\n" if i else "") + f"[bold underline]{item.plural}[/bold underline]"
                          f"  [dim]({escape(item.where)})[/dim]", highlight=False)
        if listing is not None:  # names and descriptions only: no registry import (see .listing_cache)
            table = Table(show_header=False, box=None, pad_edge=False)
            table.add_column(no_wrap=True)
            table.add_column(overflow="fold")
            for name, desc in listing.get(item.plural, {}).items():
                table.add_row(f"[bold]{escape(name)}[/bold]", escape(desc))
            console.print(table)
            continue
        registry = item.registry()
        for name, desc in registry.describe().items():
            _print_entry(console, item, name, desc, registry.get(name))


def print_entry(console: Console, kind: str, name: str) -> None:
    """One entry of one registry, with its options and facts (``tuneforge show strategy lora``)."""
    item = find_listable(kind)
    registry = item.registry()
    if name not in registry:
        raise TuneforgeError(registry.unknown_message(name))
    _print_entry(console, item, name, registry.describe()[name], registry.get(name), detailed=True)


def _print_entry(console: Console, item: Listable, name: str, desc: str, obj: Any, detailed: bool = False):
    console.print(f"[bold]{escape(name)}[/bold]  {escape(desc)}", highlight=False)
    facts = item.facts(name, obj)
    for key, value in facts.items():
        console.print(f"    {escape(key)}: {escape(value)}", highlight=False, soft_wrap=True)
    rows = item.options(name, obj)
    if not rows:
        if detailed and not facts:
            console.print("    (no options)")
        return
    table = Table(box=None, pad_edge=False, show_edge=False, padding=(0, 2, 0, 0))
    table.add_column("option", no_wrap=True, style="cyan")
    table.add_column("type", overflow="fold")
    table.add_column("default", overflow="fold")
    table.add_column("description", overflow="fold", ratio=1)
    for r in rows:
        table.add_row(escape(r.name), escape(r.type), escape(r.default), escape(r.description))
    console.print(Padding(table, (0, 0, 0, 4)))
    if detailed:
        console.print(f"[dim]recipe: {escape(item.where)}: {escape(name)}[/dim]", highlight=False)
