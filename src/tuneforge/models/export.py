"""Save a fine-tuned TaskModel in its ecosystem's own format, and load it back.

A Hugging Face model is saved with ``save_pretrained`` (safetensors) beside its
tokenizer, image processor or audio feature extractor, with the class names in
``config.json``, so that ``AutoModelForSequenceClassification.from_pretrained(folder)``
(or the image / audio equivalent, or ``transformers.pipeline``) gives the same logits
without tuneforge. A timm model is saved in
timm's own local-folder layout (``model.safetensors`` + ``config.json`` with
``architecture``, ``num_classes``, ``pretrained_cfg``), which
``timm.create_model("local-dir:FOLDER", pretrained=True)`` loads offline.
``tuneforge.json`` holds what tuneforge needs to reload either.

A text model records its pooling in config.json (``tuneforge_pooling``); where the
transformers class would pool otherwise (mean or cls on BERT, mean on a decoder), the
folder also carries ``tuneforge_pooling.py``, a model type only that file defines and an
``auto_map`` to it, so ``from_pretrained(folder, trust_remote_code=True)`` gives the same
logits and a plain ``from_pretrained(folder)`` stops with an error naming
``trust_remote_code=True`` instead of predicting otherwise (see
:mod:`tuneforge.models.pooling_code`). Every other folder loads exactly with the standard
class (pooler pooling on BERT, last token on a decoder, token classification, causal LMs,
image and audio heads).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from torch import nn

from ..data.modalities import MODALITIES
from ..errors import ModelError
from .families import build_layer_map
from .hf_loading import (feature_extractor, final_linear, hf_auto, load_tokenizer, model_pooling, new_head_modules,
                         quiet_transformers)
from .pooling import CONFIG_KEY, POOLINGS, text_role
from .pooling_code import CODE_FILE, is_own_auto_map, native_config, write_pooling_code
from .task_model import ImageSpec, TaskModel
from .weights import read_state_dict

TUNEFORGE_FILE = "tuneforge.json"

_TIMM_USAGE = """Load it with timm alone, offline, and prepare images with timm's own transform (`config.json`'s
`pretrained_cfg` describes exactly the preprocessing training used):

```python
import json

import timm
import torch
from PIL import Image
from timm.data import create_transform, resolve_data_config

MODEL = "{folder}"   # this folder (the one holding this README.md): run from it, or put its path here
model = timm.create_model(f"local-dir:{{MODEL}}", pretrained=True).eval()
transform = create_transform(**resolve_data_config(model=model))
labels = json.load(open(f"{{MODEL}}/config.json"))["label_names"]   # None for regression
images = [Image.new("RGB", (64, 48), (200, 120, 40))]   # your photos: Image.open("photo.png").convert("RGB")
with torch.no_grad():
    logits = model(torch.stack([transform(image) for image in images]))
{predictions}
```

Inputs, as in training: RGB images squashed to {size}x{size} with a bilinear resize (no centre
crop), scaled to [0, 1], normalised with mean {mean} and std {std}; that is what the transform
above does.

Or, naming the architecture and the weights file:

```python
model = timm.create_model("{arch}", num_classes={num_classes}, pretrained=True,
                          pretrained_cfg_overlay=dict(file=f"{{MODEL}}/model.safetensors",
                                                      num_classes={num_classes}))
```

(`num_classes` must be in the overlay too: without it timm assumes the architecture's
default head size and silently drops the fine-tuned classifier.)
"""


def timm_usage(arch: str, num_classes: int, folder, size: int, mean, std,
               predictions: Optional[list[str]] = None) -> str:
    """How to load a timm model saved by :func:`save_task_model` and prepare its inputs (markdown); ``folder``
    is how the code names the model's folder (``"."``: the card's own folder, so the card travels with it).
    ``predictions``: the lines turning ``logits`` and ``labels`` into the task's predictions (the task's
    decision, e.g. thresholds); by default the most probable label, or the value for regression."""
    lines = predictions or ["predictions = [labels[i] for i in logits.argmax(-1).tolist()] if labels "
                            "else logits[:, 0].tolist()"]
    return _TIMM_USAGE.format(arch=arch, num_classes=num_classes, folder=str(folder), predictions="\n".join(lines),
                              size=size, mean=list(mean or []), std=list(std or []))


def save_task_model(model: TaskModel, folder: Path, label_names: Optional[list[str]], extra: dict) -> None:
    """Write ``model`` into ``folder`` (created if needed) so it loads with or without tuneforge.

    ``label_names`` are the class names in output order (None for regression); ``extra`` is
    stored as is in ``tuneforge.json`` (and in a timm ``config.json``), e.g. the target scaling.

    Example::

        save_task_model(model, run_dir / "model", ["neg", "pos"], {"task": "classification"})
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if label_names is not None and len(label_names) != model.num_outputs:
        raise ModelError(f"saving the model: {len(label_names)} label names for {model.num_outputs} outputs")
    meta = {"kind": model.kind, "modality": model.modality, "source": model.source,
            "num_outputs": model.num_outputs, "label_names": label_names, "extra": extra,
            "pooling": model.pooling, "pooling_source": model.pooling_source,
            "auto_class": model.auto_class}
    if model.kind == "hf":
        _save_hf(model, folder, label_names)
    else:
        meta["architecture"] = _save_timm(model, folder, label_names, extra)
    meta.update(model.save_parts(folder))
    meta.update(MODALITIES.get(model.modality).saved_spec(model.preprocessor))   # image size and normalisation
    (folder / TUNEFORGE_FILE).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")


def _save_hf(model: TaskModel, folder: Path, label_names: Optional[list[str]]) -> None:
    net = model.exported_net()
    if label_names is not None:
        net.config.id2label = dict(enumerate(label_names))
        net.config.label2id = {n: i for i, n in enumerate(label_names)}
    choice = model.pooling_choice
    own = choice is not None and choice.own
    if own:
        setattr(net.config, CONFIG_KEY, choice.how)
    elif hasattr(net.config, CONFIG_KEY):
        delattr(net.config, CONFIG_KEY)
    if is_own_auto_map(getattr(net.config, "auto_map", None)):
        delattr(net.config, "auto_map")  # tuneforge's own, from a folder this model was loaded from
    with quiet_transformers():
        net.save_pretrained(folder)
        # the tokenizer (text, word lists, causal LMs), the audio feature extractor, or the image processor
        _SAVED_PREPROCESSOR.get(MODALITIES.get(model.modality).preprocessor_class, _own)(model).save_pretrained(folder)
    (folder / CODE_FILE).unlink(missing_ok=True)
    if own and not _native_pools_so(net, choice.how):
        import transformers
        if not hasattr(transformers, type(net).__name__):
            raise ModelError(f"saving the model: {type(net).__name__} is not a transformers class, so no modeling "
                             f"file can reproduce its {choice.how} pooling; use model.pooling: auto")
        write_pooling_code(folder, type(net).__name__, choice.head)


def _native_pools_so(net: nn.Module, how: str) -> bool:
    """Whether the plain transformers class of ``net`` pools as ``how`` (then no modeling file is needed)."""
    if how == "pooler":
        return getattr(net.base_model, "pooler", None) is not None
    return how == "last" and text_role(net) == "decoder"


def _own(model: TaskModel):
    return model.preprocessor


def _image_processor(model: TaskModel):
    """The HF image processor, set to the size and normalisation the model was trained with."""
    spec: ImageSpec = model.preprocessor
    processor = model.image_processor
    if processor is None:
        from transformers import ViTImageProcessor
        processor = ViTImageProcessor()
    processor.size = {"height": spec.size, "width": spec.size}
    if getattr(processor, "crop_size", None) is not None:
        processor.crop_size = {"height": spec.size, "width": spec.size}
    processor.image_mean, processor.image_std = list(spec.mean), list(spec.std)
    return processor


def _save_timm(model: TaskModel, folder: Path, label_names: Optional[list[str]], extra: dict) -> str:
    from safetensors.torch import save_file
    net = model.net
    arch = net.pretrained_cfg.get("architecture") or type(net).__name__
    spec: ImageSpec = model.preprocessor
    state = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    cfg = {k: v for k, v in net.pretrained_cfg.items() if k not in ("url", "hf_hub_id", "file") + _TEST_TIME_KEYS}
    cfg.update(num_classes=model.num_outputs, **timm_preprocessing(spec))
    config = {"architecture": arch, "num_classes": model.num_outputs,
              "num_features": getattr(net, "num_features", None), "pretrained_cfg": cfg,
              "label_names": label_names, "tuneforge": extra}
    (folder / "config.json").write_text(json.dumps(config, indent=2, default=str), encoding="utf-8")
    labels = ", ".join(label_names or []) or "(regression)"
    (folder / "README.md").write_text(f"# {arch} fine-tuned with tuneforge\n\nClasses ({model.num_outputs}): {labels}\n\n"
                                      + timm_usage(arch, model.num_outputs, ".", spec.size, spec.mean, spec.std),
                                      encoding="utf-8")
    return arch


_TEST_TIME_KEYS = ("test_input_size", "test_crop_pct")  # the architecture's, not what training used


def timm_preprocessing(spec: ImageSpec) -> dict:
    """The ``pretrained_cfg`` entries that make timm's standard evaluation transform
    (``create_transform(**resolve_data_config(model=model))``) prepare images as training did.

    Training (``data/images.py``) squashes each image to ``size x size`` with a bilinear resize,
    without cropping, then normalises. The architecture's own config usually says "resize the
    shorter side to size / crop_pct with bicubic, then centre-crop", which shows the model
    different pixels than it learnt from, so those entries are replaced here.
    """
    return {"input_size": [3, spec.size, spec.size], "interpolation": "bilinear", "crop_pct": 1.0,
            "crop_mode": "squash", "mean": list(spec.mean), "std": list(spec.std)}


def _saved_tokenizer(folder: Path, meta: dict, net):
    return load_tokenizer(folder, local_files_only=True), None, {}


def _saved_feature_extractor(folder: Path, meta: dict, net):
    return feature_extractor(str(folder), str(folder), {"local_files_only": True}), None, {}


def _saved_image_processor(folder: Path, meta: dict, net):
    from transformers import AutoImageProcessor
    processor = AutoImageProcessor.from_pretrained(folder, local_files_only=True)
    pre = _spec(meta)
    native = getattr(net.config, "image_size", pre.size)
    return pre, processor, ({"interpolate_pos_encoding": True} if native != pre.size else {})


# what a saved model's preprocessing is written as and read back from, by the transformers class of its
# modality's preprocessor (data/modalities.py); the tokenizer and the feature extractor save themselves
_SAVED_PREPROCESSOR = {"AutoImageProcessor": _image_processor}
_LOAD_PREPROCESSOR = {"AutoTokenizer": _saved_tokenizer, "AutoFeatureExtractor": _saved_feature_extractor,
                      "AutoImageProcessor": _saved_image_processor}


def load_saved_model(folder, tasks=None) -> TaskModel:
    """Load a model written by :func:`save_task_model` (for prediction on a finished run).

    ``tasks``: the task registry (``tasks.TASKS``, passed down by the caller since models sit below
    tasks); the saved model's task loads the folder itself when its ``load_saved`` returns a model
    (a causal LM with its learnt prompt)."""
    folder = Path(folder)
    meta_file = folder / TUNEFORGE_FILE
    if not meta_file.is_file():
        raise ModelError(f"{str(folder)!r} holds no {TUNEFORGE_FILE}, so it is not a model saved by tuneforge; "
                         "give the run's model folder")
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    task = (meta.get("extra") or {}).get("task")
    own = tasks.get(task).load_saved(folder, meta) if tasks is not None and task in tasks else None
    if own is not None:
        return own
    labels, n = meta.get("label_names"), int(meta["num_outputs"])
    if meta["kind"] == "timm":
        return _load_timm(folder, meta)
    auto = hf_auto(meta["modality"])
    if meta.get("auto_class"):  # a task whose model is not a per-example head (token classification)
        import transformers
        auto = getattr(transformers, meta["auto_class"])
    with quiet_transformers():  # the transformers class, never the folder's own code (tuneforge pools itself)
        config = native_config(folder)   # a folder with tuneforge's pooling file: its transformers config class
        net = auto.from_pretrained(folder, local_files_only=True, trust_remote_code=False,
                                   **({"config": config} if config is not None else {})).eval()
        inputs = MODALITIES.get(meta["modality"])
        pre, processor, kwargs = _LOAD_PREPROCESSOR[inputs.preprocessor_class](folder, meta, net)
    head = new_head_modules(net)
    source = meta.get("source", str(folder))
    recorded = meta.get("pooling") if inputs.preprocessor_class == "AutoTokenizer" else None
    choice = model_pooling(net, head, meta["modality"], source, recorded if recorded in POOLINGS else "auto", folder)
    model = TaskModel(net, build_layer_map(net, "hf"), "hf", meta["modality"], pre, source,
                      n, head_linear=final_linear(net, head) if head else None, label_names=labels,
                      forward_kwargs=kwargs, image_processor=processor, pooling=choice)
    model.auto_class = meta.get("auto_class")
    return model


def _spec(meta: dict) -> ImageSpec:
    image = meta["image"]
    return ImageSpec(int(image["size"]), tuple(image["mean"]), tuple(image["std"]))


def _load_timm(folder: Path, meta: dict) -> TaskModel:
    import timm
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    spec = _spec(meta)
    kwargs = {}
    if config.get("pretrained_cfg", {}).get("fixed_input_size"):
        kwargs["img_size"] = spec.size
    net = timm.create_model(meta["architecture"], pretrained=False, num_classes=int(meta["num_outputs"]), **kwargs)
    net.load_state_dict(read_state_dict(folder / "model.safetensors", "saved model"), strict=True)
    net.eval()
    head = net.pretrained_cfg.get("classifier") or "head"
    head = head if isinstance(head, str) else head[0]
    linear = head if isinstance(net.get_submodule(head), nn.Linear) else None
    return TaskModel(net, build_layer_map(net, "timm"), "timm", "image", spec, meta.get("source", str(folder)),
                     int(meta["num_outputs"]), head_linear=linear, label_names=meta.get("label_names"))
