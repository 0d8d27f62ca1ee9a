"""Read ``data.augment``: a preset, or a list of names and ``{name: ..., option: value}`` mappings.

:func:`parse_augment` turns what a user wrote into one canonical list (each entry a
mapping with its name and every option, defaults filled in), so the run folder's
``recipe.yaml`` says exactly what was applied even if a preset changes later. A mistake
(unknown name or option, a value out of range, an entry listed twice) is a ``ValueError``
whose message names the entry and offers a "did you mean"; the recipe schema turns it into
one line of a :class:`~tuneforge.errors.RecipeError`.

Example::

    parse_augment("light")
    # [{'name': 'hflip', 'p': 0.5}, {'name': 'crop', 'scale': [0.8, 1.0], 'ratio': [0.75, 1.333...]}]
    parse_augment(["hflip", {"name": "rotation", "degrees": 10}])
"""
from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ...registry import did_you_mean
from .catalog import AUGMENTATIONS

PRESETS: dict[str, tuple[str, list]] = {
    "none": ("no augmentation", []),
    "light": ("mirror and a gentle zoom: safe for almost any photo data set",
              ["hflip", {"name": "crop", "scale": [0.8, 1.0]}]),
    "medium": ("mirror, zoom, small rotations and colour changes: a good default for small photo data sets",
               ["hflip", {"name": "crop", "scale": [0.5, 1.0]}, {"name": "rotation", "degrees": 10},
                "color-jitter"]),
    "heavy": ("RandAugment, strong zoom, erasing and mixup/cutmix: long runs on small data sets "
              "(single-label classification only)",
              ["hflip", {"name": "crop", "scale": [0.25, 1.0]}, "randaugment", "erasing", "mixup", "cutmix"]),
}


def _choices() -> list[str]:
    return AUGMENTATIONS.names() + sorted(PRESETS)


def _unknown(name: Any) -> str:
    return (f"unknown augmentation {name!r}{did_you_mean(name, _choices())}; known: "
            f"{', '.join(AUGMENTATIONS.names())}; presets: {', '.join(sorted(PRESETS))}")


def _entry(item: Any, where: str, preset: str | None) -> dict:
    """One canonical entry from a name or a mapping (``where`` names it in messages)."""
    if isinstance(item, str):
        name, given = item.strip(), {}
    elif isinstance(item, dict):
        if "name" not in item:
            raise ValueError(f"{where}: a mapping needs a 'name' key (e.g. {{name: rotation, degrees: 15}}), "
                             f"got keys {', '.join(map(str, item)) or 'none'}")
        name, given = item["name"], {k: v for k, v in item.items() if k != "name"}
    else:
        raise ValueError(f"{where}: each entry is a name or a mapping with a name, got {type(item).__name__} {item!r}")
    if name not in AUGMENTATIONS:
        raise ValueError(f"{where}: {_unknown(name)}")
    options = AUGMENTATIONS.get(name).options
    for key in given:
        if key not in options.model_fields:
            known = ", ".join(options.model_fields) or "none"
            raise ValueError(f"{where} ({name}): {key!r} is not an option{did_you_mean(key, options.model_fields)}; "
                             f"its options: {known}")
    try:
        values = options(**given).model_dump(mode="json")
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        msg = msg[:1].lower() + msg[1:]
        raise ValueError(f"{where} ({name}): {key}: {msg} (got {err.get('input')!r})") from None
    return {"name": name, **values}


def parse_augment(value: Any) -> list[dict]:
    """The canonical list of a ``data.augment`` value (see the module docstring); ValueError if malformed."""
    if value is None:
        return []
    items = [value] if isinstance(value, (str, dict)) else value
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"a preset name or a list of augmentations, got {type(value).__name__} {value!r}")
    out: list[dict] = []
    origin: dict[str, str] = {}
    for i, item in enumerate(items):
        where = f"entry {i + 1}"
        if isinstance(item, str) and item.strip() in PRESETS:
            expanded = [(e, f"{where} (preset {item.strip()!r})", item.strip()) for e in PRESETS[item.strip()][1]]
        else:
            expanded = [(item, where, None)]
        for raw, w, preset in expanded:
            entry = _entry(raw, w, preset)
            if entry["name"] in origin:
                raise ValueError(f"{w}: {entry['name']!r} is listed twice (also {origin[entry['name']]}); "
                                 "keep one, with the options you want")
            origin[entry["name"]] = w
            out.append(entry)
    return out


def preset_names() -> list[str]:
    return sorted(PRESETS)
