"""Load a Hugging Face model (local folder or hub id) with a fresh task head.

The folder's weights fill the backbone; the classification head is built for the
task and freshly initialised (``keep_head=True`` keeps a checkpoint's own head
instead, e.g. an ImageNet classifier). Hub code runs only with ``trust_remote_code``.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from ..data.modalities import MODALITIES
from ..errors import ModelError
from .families import build_layer_map
from .pooling import Pooling, resolve_image_pooling, resolve_text_pooling
from .pooling_code import is_tuneforge_code, native_config
from .task_model import ImageSpec, TaskModel

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
# config attributes that are dropout probabilities, across the families we know
DROPOUT_KEYS = ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout", "dropout",
                "attention_dropout", "seq_classif_dropout", "hidden_dropout", "resid_pdrop", "embd_pdrop",
                "attn_pdrop", "summary_first_dropout", "activation_dropout")


@contextlib.contextmanager
def quiet_transformers():
    """Silence transformers' load report and progress bars (we report problems ourselves)."""
    from transformers.utils import logging as hf_logging
    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def check_folder(folder: Path, name: str, trust_remote_code: bool = False) -> None:
    """A local model folder must hold config.json and PyTorch weights, and run no code of its own
    unless the recipe trusts it."""
    if not (folder / "config.json").is_file():
        raise ModelError(f"model.name {name!r}: the folder has no config.json, so it is not a Hugging Face "
                         "model folder (save one with model.save_pretrained(folder))")
    refuse_remote_code(folder / "config.json", name, trust_remote_code)
    if not any((folder / f).is_file() for f in WEIGHT_FILES):
        raise ModelError(f"model.name {name!r}: the folder has a config.json but no weights "
                         f"(expected one of {', '.join(WEIGHT_FILES)}); copy the weights into it")


def refuse_remote_code(config_file, name: str, trust_remote_code: bool) -> None:
    """ModelError when ``config_file`` maps its classes to Python files of the model's own
    (``auto_map``) and the recipe has not set ``model.trust_remote_code: true``.

    Checked on the JSON text, before transformers sees the config, so that no such code is
    ever imported, and the message says what to do. A folder tuneforge exported, whose
    ``auto_map`` names only an unmodified ``tuneforge_pooling.py``, passes: tuneforge loads it
    with the transformers class and pools as config.json records, so that file never runs.
    """
    if trust_remote_code or config_file is None:
        return
    try:
        data = json.loads(Path(config_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # unreadable configs get their own message where they are loaded
    auto_map = data.get("auto_map") if isinstance(data, dict) else None
    if auto_map and is_tuneforge_code(Path(config_file).parent, auto_map):
        return  # a folder tuneforge exported: it is reloaded with the transformers class, its file never runs
    if auto_map:
        files = sorted({str(v).split(".")[0] + ".py" for v in (auto_map.values() if isinstance(auto_map, dict)
                                                                else auto_map) if isinstance(v, str)})
        raise ModelError(f"model.name {name!r}: its config.json asks to run the model's own Python code "
                         f"({', '.join(files) or 'auto_map'}); tuneforge never runs model code unless the recipe "
                         "sets model.trust_remote_code: true. Read that code first, and set it only if you "
                         "trust its source")


def read_config(path, **kwargs):
    """``AutoConfig.from_pretrained(path, **kwargs)``, except that a folder tuneforge exported with its pooling
    file (whose model type only that file defines) is read as the transformers config class that file extends,
    without running it (:func:`tuneforge.models.pooling_code.native_config`)."""
    from transformers import AutoConfig
    config = native_config(path) if os.path.isdir(str(path)) else None
    return config if config is not None else AutoConfig.from_pretrained(path, **kwargs)


def hf_modality(config) -> Optional[str]:
    """"text", "image" or "audio" for a config's model type, or None when no such task is supported."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES as AUDIO, MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES as IMAGE,
        MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES as TEXT)
    model_type = getattr(config, "model_type", None)
    if model_type in TEXT:
        return "text"
    if model_type in IMAGE:
        return "image"
    if model_type in AUDIO:
        return "audio"
    return None


def hf_auto(modality: Optional[str]):
    """The transformers class with one output vector per example for ``modality`` (text when unknown)."""
    import transformers
    name = MODALITIES.get(modality).hf_example_head if modality else "AutoModelForSequenceClassification"
    return getattr(transformers, name)


def check_modality(config, modality: str, name: str) -> None:
    found = hf_modality(config)
    remote = bool(getattr(config, "auto_map", None))
    if found is None and not remote:
        raise ModelError(f"model.name {name!r}: model type {config.model_type!r} has no sequence, image or "
                         "audio classification head in transformers; pick another model")
    if found is not None and found != modality:
        raise ModelError(f"model.name {name!r} is {'an' if found in ('image', 'audio') else 'a'} {found} model but the "
                         f"task's inputs are {modality}; pick a {modality} model")


def set_dropout(config, p: float) -> None:
    for key in DROPOUT_KEYS:
        if isinstance(getattr(config, key, None), (int, float)):
            setattr(config, key, float(p))


def new_head_modules(net: nn.Module) -> list[str]:
    """Names of the modules of the task head: those outside the backbone that hold parameters."""
    prefix = getattr(net, "base_model_prefix", "")
    return [n for n, m in net.named_children()
            if n != prefix and any(True for _ in m.parameters())]


def final_linear(net: nn.Module, roots: list[str]) -> Optional[str]:
    """The module name of the last nn.Linear under ``roots`` (registration order)."""
    found = None
    for root in roots:
        for n, m in net.get_submodule(root).named_modules():
            if isinstance(m, nn.Linear):
                found = f"{root}.{n}" if n else root
    return found


@torch.no_grad()
def reinit_head(net: nn.Module, roots: list[str]) -> None:
    """Fresh weights for the head, whatever the checkpoint held for it."""
    std = float(getattr(net.config, "initializer_range", 0.02))
    for root in roots:
        for m in net.get_submodule(root).modules():
            if isinstance(m, nn.Linear):
                m.weight.normal_(0.0, std)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.LayerNorm):
                m.weight.fill_(1.0)
                m.bias.zero_()


def load_hf(path: str, name: str, modality: str, num_outputs: int, label_names: Optional[list[str]],
            regression: bool, image_size: Optional[int], dropout: Optional[float], trust_remote_code: bool,
            keep_head: bool, local_only: bool, pooling: str = "auto", problem_type: Optional[str] = None,
            auto_class: Optional[str] = None) -> TaskModel:
    """Load ``path`` (a folder, or a hub id already in the cache) as a TaskModel.

    ``pooling`` is ``model.pooling`` (see :mod:`tuneforge.models.pooling`); a checkpoint
    without pooler weights loads when the pooling does not read the pooler, which is then
    removed (an unused layer would only look trainable). ``problem_type`` and ``auto_class``
    come from the task (the transformers class its model is built as).
    """
    common = dict(trust_remote_code=trust_remote_code, local_files_only=local_only)
    with quiet_transformers():
        config = read_config(path, **common)
        check_modality(config, modality, name)
        if keep_head:
            if config.num_labels != num_outputs:
                raise ModelError(f"model.name {name!r}: keeping its own head gives {config.num_labels} "
                                 f"outputs but the task needs {num_outputs}")
        else:
            config.num_labels = num_outputs
            names = list(label_names) if label_names and len(label_names) == num_outputs else None
            names = names or (["target"] if regression else [f"LABEL_{i}" for i in range(num_outputs)])
            config.id2label = dict(enumerate(names))
            config.label2id = {n: i for i, n in enumerate(names)}
            config.problem_type = problem_type or ("regression" if regression else "single_label_classification")
        if dropout is not None:
            set_dropout(config, dropout)
        auto = hf_auto(modality)
        if auto_class is not None:
            import transformers
            auto = getattr(transformers, auto_class)
        try:
            net, info = auto.from_pretrained(path, config=config, ignore_mismatched_sizes=True,
                                             output_loading_info=True, **common)
        except (OSError, ValueError) as e:
            raise ModelError(f"model.name {name!r}: the weights could not be loaded ({_first_line(e)})") from None
    net.eval()
    head = new_head_modules(net)
    in_head = lambda key: any(key == h or key.startswith(h + ".") for h in head)  # noqa: E731
    pooler_missing = sorted(k for k in info.get("missing_keys", ()) if ".pooler." in f".{k}" and not in_head(k))
    bad = sorted(k for k in info.get("missing_keys", ()) if not in_head(k) and k not in pooler_missing)
    bad += sorted(str(k[0] if isinstance(k, tuple) else k) for k in info.get("mismatched_keys", ())
                  if not in_head(str(k[0] if isinstance(k, tuple) else k)))
    if bad:
        raise ModelError(f"model.name {name!r}: the weights do not fit the architecture in config.json "
                         f"({len(bad)} backbone tensors missing or of another shape, e.g. {bad[0]}); "
                         "check that the weights and config.json belong together")
    if not keep_head:
        reinit_head(net, head)
    choice = model_pooling(net, head, modality, name, pooling, path, pooler_in_checkpoint=not pooler_missing)

    preprocessor, image_processor, forward_kwargs = _PREPROCESSORS[MODALITIES.get(modality).preprocessor_class](
        path, name, net, image_size, common)
    final = final_linear(net, head) if head else None
    names = [net.config.id2label[i] for i in range(num_outputs)] if not regression else None
    model = TaskModel(net, build_layer_map(net, "hf"), "hf", modality, preprocessor, name, num_outputs,
                      head_linear=final, label_names=names, forward_kwargs=forward_kwargs,
                      image_processor=image_processor, pooling=choice)
    model.auto_class = auto_class  # recorded by save_task_model, so the saved folder reloads as this class
    return model


def _tokenizer_inputs(path: str, name: str, net: nn.Module, image_size: Optional[int], common: dict):
    return _tokenizer(path, name, net, common), None, {}


def _feature_extractor_inputs(path: str, name: str, net: nn.Module, image_size: Optional[int], common: dict):
    return feature_extractor(path, name, common), None, {}


def _image_inputs(path: str, name: str, net: nn.Module, image_size: Optional[int], common: dict):
    preprocessor, image_processor = _image_spec(path, net.config, image_size, common)
    native = getattr(net.config, "image_size", None)
    forward_kwargs = {}
    if native and preprocessor.size != native and _accepts(net, "interpolate_pos_encoding"):
        forward_kwargs["interpolate_pos_encoding"] = True
    return preprocessor, image_processor, forward_kwargs


# (preprocessor, HF image processor or None, forward kwargs) of a loaded network, by the transformers class of
# its modality's preprocessor (data/modalities.py)
_PREPROCESSORS = {"AutoTokenizer": _tokenizer_inputs, "AutoFeatureExtractor": _feature_extractor_inputs,
                  "AutoImageProcessor": _image_inputs}


def _frame_pooling(net: nn.Module, requested: str, name: str) -> Pooling:
    """wav2vec2/HuBERT heads average the frames the attention mask keeps."""
    return resolve_image_pooling(requested, "mean", f"{type(net).__name__}'s own pooling (mean over frames)", name)


def _image_pooling(net: nn.Module, requested: str, name: str) -> Pooling:
    own = "cls" if type(net).__name__ in ("ViTForImageClassification", "DeiTForImageClassification") else "model"
    source = (f"{type(net).__name__} reads the first token" if own == "cls"
              else f"{type(net).__name__}'s own pooling")
    return resolve_image_pooling(requested, own, source, name)


# the pooling of networks that pool themselves, by the transformers class of their modality's preprocessor;
# token states (text) are pooled as model.pooling says (models/pooling.py)
_OWN_POOLING = {"AutoFeatureExtractor": _frame_pooling, "AutoImageProcessor": _image_pooling}


def model_pooling(net: nn.Module, head: list[str], modality: str, name: str, requested: str, path=None,
                  pooler_in_checkpoint: Optional[bool] = None) -> Pooling:
    """Resolve ``model.pooling`` for a loaded network; drop a pooler the pooling does not read."""
    if type(net).__name__.endswith("ForTokenClassification"):  # one output per token: nothing is pooled
        return Pooling("tokens", "a token-classification head reads every token's state")
    own_pooling = _OWN_POOLING.get(MODALITIES.get(modality).preprocessor_class)
    if own_pooling is not None:   # audio and image heads: the network's own pooling
        return own_pooling(net, requested, name)
    folder = path if path is not None and os.path.isdir(str(path)) else _cached_snapshot(path)
    choice = resolve_text_pooling(requested, net, head, name, folder, pooler_in_checkpoint)
    if choice.own and choice.how != "pooler" and getattr(net.base_model, "pooler", None) is not None:
        net.base_model.pooler = None
    return choice


def _cached_snapshot(hub_id) -> Optional[str]:
    """The local snapshot folder of a hub id whose sentence-transformers files are cached, or None."""
    if not hub_id:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
        found = try_to_load_from_cache(str(hub_id), "modules.json")
    except (ValueError, OSError):
        return None
    return str(Path(found).parent) if isinstance(found, str) else None


def load_tokenizer(path, **kwargs):
    """``AutoTokenizer.from_pretrained(path, **kwargs)``, handed the config :func:`read_config` reads, so that a
    folder whose model type only its own pooling file defines neither asks whether to run that file nor
    warns about its model type."""
    from transformers import AutoTokenizer
    config = native_config(path) if os.path.isdir(str(path)) else None
    return AutoTokenizer.from_pretrained(path, **({"config": config} if config is not None else {}), **kwargs)


def _tokenizer(path: str, name: str, net: nn.Module, common: dict):
    try:
        with quiet_transformers():
            tokenizer = load_tokenizer(path, **common)
    except (OSError, ValueError, TypeError) as e:
        raise ModelError(f"model.name {name!r}: no usable tokenizer was found beside the model "
                         f"({_first_line(e)}); save the tokenizer into the folder with "
                         "tokenizer.save_pretrained(folder)") from None
    vocab = net.get_input_embeddings().num_embeddings
    if len(tokenizer) > vocab:
        raise ModelError(f"model.name {name!r}: tokenizer/model mismatch: the tokenizer has {len(tokenizer)} "
                         f"tokens but the model's embedding only {vocab}; use the tokenizer the model was "
                         "trained with")
    if tokenizer.pad_token is None:  # decoders: pad with end-of-sequence, and tell the model
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        net.config.pad_token_id = tokenizer.pad_token_id
    return tokenizer


def feature_extractor(path: str, name: str, common: dict):
    """The audio model's feature extractor (its sampling rate, normalisation, padding), saved beside it."""
    from transformers import AutoFeatureExtractor
    try:
        with quiet_transformers():
            extractor = AutoFeatureExtractor.from_pretrained(path, **common)
    except (OSError, ValueError, TypeError) as e:
        raise ModelError(f"model.name {name!r}: no usable feature extractor was found beside the model "
                         f"({_first_line(e)}); save it into the folder with "
                         "feature_extractor.save_pretrained(folder) (preprocessor_config.json)") from None
    if not getattr(extractor, "sampling_rate", None):
        raise ModelError(f"model.name {name!r}: its feature extractor names no sampling_rate")
    return extractor


def _image_spec(path: str, config, image_size: Optional[int], common: dict):
    """ImageSpec (and the HF image processor, if the folder has one) for an image model."""
    from transformers import AutoImageProcessor
    processor = None
    if os.path.isdir(path) and not (Path(path) / "preprocessor_config.json").is_file():
        processor = None
    else:
        try:
            with quiet_transformers():
                processor = AutoImageProcessor.from_pretrained(path, **common)
        except (OSError, ValueError):
            processor = None
    mean = tuple(getattr(processor, "image_mean", None) or (0.5, 0.5, 0.5))
    std = tuple(getattr(processor, "image_std", None) or (0.5, 0.5, 0.5))
    size = getattr(config, "image_size", 224)
    psize = getattr(processor, "crop_size", None) or getattr(processor, "size", None)
    if psize is not None:
        get = psize.get if hasattr(psize, "get") else lambda k, d=None: getattr(psize, k, d)
        size = get("height", None) or get("shortest_edge", None) or size
    size = int(size if isinstance(size, int) else size[0])
    return ImageSpec(int(image_size or size), mean, std), processor


def _accepts(net: nn.Module, arg: str) -> bool:
    import inspect
    return arg in inspect.signature(net.forward).parameters


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
