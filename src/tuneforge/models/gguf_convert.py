"""Turn a GGUF language-model file into a plain Hugging Face folder, once, and reuse it.

Transformers reads GGUF files (de-quantising the weights to fp32), but only as a
causal language model and at the cost of a slow conversion on every load. Here the
conversion runs once: the config (without its ``quantization_config``), the weights
as ``model.safetensors`` and the tokenizer are saved to a cache folder, which then
loads like any other local model (e.g. as a sequence classifier).

The folder is written under a temporary name beside its final place and renamed
when complete, so an interrupted conversion never leaves a half-written model, and
two processes converting at once both end with a whole folder. ``source.json``
records the GGUF file's name and size; a folder made from another file is rebuilt.

Example::

    folder = converted_folder(Path(pkg_dir) / "model.Q4_1.gguf", cache_root() / "my-model")
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

from ..errors import ModelError
from .hf_loading import quiet_transformers

SOURCE_FILE = "source.json"


def cache_root() -> Path:
    """Where converted models live: ``$TUNEFORGE_CACHE`` or ``~/.cache/tuneforge``."""
    root = os.environ.get("TUNEFORGE_CACHE", "").strip()
    return Path(root).expanduser() if root else Path.home() / ".cache" / "tuneforge"


def _source(gguf_file: Path) -> dict:
    return {"gguf": gguf_file.name, "bytes": gguf_file.stat().st_size}


def _is_current(folder: Path, gguf_file: Path) -> bool:
    return (_matches(folder, gguf_file) and (folder / "config.json").is_file()
            and (folder / "model.safetensors").is_file())


def gguf_config(gguf_file: Path):
    """The transformers config described by the GGUF metadata, without quantisation settings."""
    from transformers import AutoConfig
    with quiet_transformers():
        config = AutoConfig.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
    for key in ("quantization_config", "_name_or_path", "_model_name_or_path"):
        if hasattr(config, key):
            try:
                delattr(config, key)
            except AttributeError:
                pass
    config.dtype = "float32"
    return config


def _write(gguf_file: Path, target: Path) -> None:
    """Convert ``gguf_file`` into the (new, empty) folder ``target``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_file.parent), gguf_file.name
    config = gguf_config(gguf_file)
    with quiet_transformers():
        quantised = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    # a fresh model from the clean config, so nothing of the GGUF loading path is saved with it
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantised.state_dict(), strict=True)
    del quantised
    with quiet_transformers():
        plain.save_pretrained(str(target), safe_serialization=True)
        tokenizer.save_pretrained(str(target))
    (target / SOURCE_FILE).write_text(json.dumps(_source(gguf_file)) + "\n", encoding="utf-8")


def converted_folder(gguf_file: Path, folder: Path) -> Path:
    """``folder`` holding ``gguf_file`` as a Hugging Face model, converting it first if needed."""
    if _is_current(folder, gguf_file):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        try:
            _write(gguf_file, tmp)
        except (OSError, ValueError, RuntimeError, ImportError) as e:
            raise ModelError(f"converting {gguf_file.name} into a Hugging Face folder failed: {e}") from None
        if _is_current(folder, gguf_file):  # another process finished first
            return folder
        if folder.exists():  # stale: made from another file, or incomplete
            stale = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
            os.replace(folder, stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not _is_current(folder, gguf_file):  # not a race we lost: a real failure
                raise
        return folder
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def config_folder(gguf_file: Path, folder: Path) -> Path:
    """A folder holding only the config.json of ``gguf_file`` (seconds, no weights converted).

    Enough to learn the model's shape (layers, widths) without the full conversion.
    """
    if (folder / "config.json").is_file() and _matches(folder, gguf_file):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        gguf_config(gguf_file).save_pretrained(str(tmp))
        (tmp / SOURCE_FILE).write_text(json.dumps(_source(gguf_file)) + "\n", encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not (folder / "config.json").is_file():
                raise
        return folder
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _matches(folder: Path, gguf_file: Path) -> bool:
    try:
        return json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8")) == _source(gguf_file)
    except (OSError, ValueError):
        return False


def package_file(module: str, filename: str) -> Optional[Path]:
    """``filename`` inside the installed package ``module``, found without importing it; None if absent."""
    import importlib.util
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / filename
        if path.is_file():
            return path
    return None
