"""How ``tuneforge export RUN --check`` loads each artefact of a run folder: the way its card says.

One function per kind of artefact, so that the loading follows the cards in one place:
:func:`load_transformers_folder` (the Auto class of the run's task, trusting the folder's code only when
it is tuneforge's own unmodified pooling file), :func:`load_model_folder` (timm's ``local-dir:`` loader,
or the transformers folder, plus ``model/prompt`` through peft after prompt learning),
:func:`load_adapter_folder` (the adapter on its base through peft), :func:`run_onnx` (onnxruntime) and
:func:`onnx_files` (which ONNX files ``model/`` holds).

Example::

    net = load_transformers_folder(run_dir / "model", meta)   # meta: model/tuneforge.json
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np

from ..extras import require_extra
from ..models.aliases import resolve_alias
from ..models.hf_loading import quiet_transformers
from ..models.onnx_session import OnnxModel
from ..models.pooling_code import (CLASS_NAME, CODE_FILE, CONFIG_NAME, MODEL_TYPE_PREFIX, is_own_auto_map,
                                   is_tuneforge_code)
from .card_usage import auto_class

_QUANTISED_OPS = {"QuantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "QLinearMatMul", "ConvInteger",
                  "DynamicQuantizeMatMul", "QAttention"}


def load_model_folder(folder: Path, meta: dict):
    """``model/`` as its card loads it: timm's ``local-dir:``; else :func:`load_transformers_folder`, plus the
    learnt prompt through peft after prompt learning."""
    if meta.get("kind") == "timm":
        import timm
        return timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
    net = load_transformers_folder(folder, meta)
    if meta.get("prompt_adapter"):
        from peft import PeftModel
        net = PeftModel.from_pretrained(net, str(folder / meta["prompt_adapter"])).eval()
    return net


def load_transformers_folder(folder: Path, meta: dict, **kwargs):
    """A transformers folder through the Auto class of its task (``tuneforge.json``'s ``auto_class``, else the
    task's), trusting the folder's code only when it is tuneforge's own pooling file (``is_tuneforge_code``).

    The one place ``--check`` decides how a transformers folder loads, so that it follows the cards."""
    import transformers
    config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    trust = is_tuneforge_code(folder, config.get("auto_map"))
    if not trust and is_own_auto_map(config.get("auto_map")) and str(config.get("model_type", "")).startswith(
            MODEL_TYPE_PREFIX):
        raise ValueError(f"{CODE_FILE} is not the file tuneforge wrote (edited?), so it is not run here; the folder "
                         "loads only with trust_remote_code=True, once you have read that file")
    cls = getattr(transformers, auto_class(meta))
    with quiet_transformers():
        return cls.from_pretrained(str(folder), trust_remote_code=trust, local_files_only=True, **kwargs).eval()


def load_adapter_folder(adapter: Path, meta: dict, section):
    """``adapter/`` on its base through peft, as the adapter's card does; the base is the path the adapter
    names when it exists here, else the recipe's model as found on this machine (an alias's package)."""
    from peft import PeftModel
    base = base_path(json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8")), meta, section)
    if meta.get("kind") == "timm":
        import timm
        net = timm.create_model(meta["architecture"], pretrained=True, num_classes=int(meta["num_outputs"]),
                                pretrained_cfg_overlay=dict(file=base))
    else:
        import transformers
        raw = json.loads((adapter / "config.json").read_text(encoding="utf-8"))
        if is_tuneforge_code(adapter, raw.get("auto_map")):   # as the card: the pooling file's own classes
            pooling = _module_from_file(adapter / CODE_FILE)
            cls = getattr(pooling, CLASS_NAME)
            config = getattr(pooling, CONFIG_NAME).from_pretrained(str(adapter), local_files_only=True)
        else:
            cls = getattr(transformers, auto_class(meta))
            config = transformers.AutoConfig.from_pretrained(str(adapter), local_files_only=True)
        with quiet_transformers():
            net = cls.from_pretrained(base, config=config, local_files_only=True)
    with quiet_transformers():
        return PeftModel.from_pretrained(net, str(adapter)).eval()


def base_path(adapter_config: dict, meta: dict, section) -> str:
    named = str(adapter_config.get("base_model_name_or_path") or "")
    if named and Path(named).expanduser().exists():
        return str(Path(named).expanduser())
    spec = resolve_alias(section.name)
    if spec is not None:
        return str(spec.weights if meta.get("kind") == "timm" and spec.weights else spec.path)
    return str(section.weights or section.name)


def _module_from_file(path: Path):
    spec = importlib.util.spec_from_file_location("tuneforge_pooling", str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def onnx_files(folder: Path) -> list[Path]:
    """The ONNX files of ``model/``: those ``onnx.json`` lists and every ``*.onnx`` beside them."""
    found = set(folder.glob("*.onnx"))
    info = folder / "onnx.json"
    if info.is_file():
        try:
            listed = json.loads(info.read_text(encoding="utf-8"))
        except ValueError:
            listed = {}
        found |= {folder / str(v) for v in _strings(listed) if str(v).endswith(".onnx")}
    return sorted(found)


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def run_onnx(path: Path, batch: dict) -> np.ndarray:
    """``logits`` of an ONNX file through onnxruntime, fed the batch's inputs the graph names."""
    require_extra("onnx", "running an ONNX file")
    return OnnxModel(path)(batch).numpy()


def is_quantised(path: Path) -> bool:
    try:
        import onnx
        graph = onnx.load(str(path), load_external_data=False).graph
        return any(node.op_type in _QUANTISED_OPS for node in graph.node)
    except Exception:   # an unreadable file is reported when onnxruntime opens it
        return False


def st_normalizes(folder: Path) -> bool:
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(str(m.get("type", "")).endswith("Normalize") for m in modules if isinstance(m, dict))
