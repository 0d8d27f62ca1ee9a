"""The modeling file an exported text model carries when transformers' own class pools differently.

BertForSequenceClassification reads the pooler and LlamaForSequenceClassification the last
token, so a model tuneforge trained with mean or cls pooling would give other logits if
loaded with the plain class. :func:`write_pooling_code` then writes ``tuneforge_pooling.py``
beside the weights: a config class whose ``model_type`` (``tuneforge-pooled-bert``, ...) only
that file defines, and a subclass of the transformers class that pools as tuneforge did.
config.json carries that model type and an ``auto_map`` for ``AutoConfig`` and
``AutoModelForSequenceClassification``, so:

* ``AutoModelForSequenceClassification.from_pretrained(folder)`` (or ``pipeline``) without
  ``trust_remote_code=True`` stops with transformers' own error naming ``trust_remote_code=True``,
  instead of building the plain class with an untrained pooler and predicting other labels in
  silence (what folders written before this file defined a config class did);
* with ``trust_remote_code=True`` it gives tuneforge's logits;
* ``AutoTokenizer.from_pretrained(folder)`` is unaffected (the tokenizer names its own class).

tuneforge itself never imports that file: :func:`native_config` reads config.json as the
transformers config class the file names (its ``auto_map`` dropped), tuneforge builds the
transformers class from it and pools from ``tuneforge_pooling``. :func:`is_tuneforge_code`
recognises a folder whose ``auto_map`` points only at an unmodified copy of this file (this
version's or the previous one's), so the "no model code unless trusted" rule does not stop
fine-tuning an exported model again.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

from .pooling import CONFIG_KEY

CODE_FILE = "tuneforge_pooling.py"
CLASS_NAME = "TuneforgePooledForSequenceClassification"
CONFIG_NAME = "TuneforgePooledConfig"
AUTO_CLASS = "AutoModelForSequenceClassification"
MODEL_TYPE_PREFIX = "tuneforge-pooled-"

_TEMPLATE = '''"""Written by tuneforge: {native} that pools its token states as it was fine-tuned.

The pooling is config.{key} (cls: first token, mean: average of the real tokens, last:
the last real token, pooler: the pre-trained pooler); the pooled vector goes through the
model's dropout and its single linear head `{head}`. Load with
AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).
config.json's model_type "{model_type}" is defined only here, so without
trust_remote_code transformers refuses to load the folder rather than build the plain
{native}, whose pooler was never trained and which would predict other labels.
"""
import torch
import transformers
from transformers.modeling_outputs import SequenceClassifierOutput

NATIVE = "{native}"
NATIVE_CONFIG = "{native_config}"
HEAD = "{head}"


def pool(hidden, attention_mask, how, pooler_output=None):
    if how == "pooler":
        return pooler_output
    if how == "cls":
        return hidden[:, 0]
    if attention_mask is None:
        attention_mask = torch.ones(hidden.shape[:2], dtype=torch.long, device=hidden.device)
    if how == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
    if how == "last":
        positions = torch.arange(hidden.shape[1], device=hidden.device)
        last = (positions * (attention_mask != 0).to(positions.dtype)).argmax(-1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    raise ValueError(f"unknown pooling {{how!r}}")


class {config_cls}(getattr(transformers, NATIVE_CONFIG)):
    model_type = "{model_type}"


class TuneforgePooledBody(transformers.MODEL_MAPPING[getattr(transformers, NATIVE_CONFIG)]):
    config_class = {config_cls}   # the body some transformers classes build with AutoModel.from_config


transformers.AutoModel.register({config_cls}, TuneforgePooledBody, exist_ok=True)


class {cls}(getattr(transformers, NATIVE)):
    config_class = {config_cls}

    def __init__(self, config):
        super().__init__(config)
        if config.{key} != "pooler" and getattr(self.base_model, "pooler", None) is not None:
            self.base_model.pooler = None  # not read, and not saved

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        kwargs.pop("return_dict", None)
        out = self.base_model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        pooled = pool(out.last_hidden_state, attention_mask, self.config.{key}, getattr(out, "pooler_output", None))
        dropout = getattr(self, "dropout", None)
        logits = getattr(self, HEAD)(dropout(pooled) if isinstance(dropout, torch.nn.Dropout) else pooled)
        loss = None
        if labels is not None:
            if self.config.problem_type == "regression":
                loss = torch.nn.functional.mse_loss(logits.squeeze(-1), labels.to(logits.dtype).view(-1))
            elif self.config.problem_type == "multi_label_classification":
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
            else:
                loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=getattr(out, "hidden_states", None),
                                        attentions=getattr(out, "attentions", None))
'''

# written by the previous version (no config class: plain loading fell back to the transformers class);
# kept verbatim so that is_tuneforge_code still recognises those folders
_TEMPLATE_V1 = '''"""Written by tuneforge: {native} that pools its token states as it was fine-tuned.

The pooling is config.{key} (cls: first token, mean: average of the real tokens, last:
the last real token, pooler: the pre-trained pooler); the pooled vector goes through the
model's dropout and its single linear head `{head}`. Load with
AutoModelForSequenceClassification.from_pretrained(folder) with trust_remote_code set to True.
"""
import torch
import transformers
from transformers.modeling_outputs import SequenceClassifierOutput

NATIVE = "{native}"
HEAD = "{head}"


def pool(hidden, attention_mask, how, pooler_output=None):
    if how == "pooler":
        return pooler_output
    if how == "cls":
        return hidden[:, 0]
    if attention_mask is None:
        attention_mask = torch.ones(hidden.shape[:2], dtype=torch.long, device=hidden.device)
    if how == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
    if how == "last":
        positions = torch.arange(hidden.shape[1], device=hidden.device)
        last = (positions * (attention_mask != 0).to(positions.dtype)).argmax(-1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    raise ValueError(f"unknown pooling {{how!r}}")


class {cls}(getattr(transformers, NATIVE)):
    def __init__(self, config):
        super().__init__(config)
        if config.{key} != "pooler" and getattr(self.base_model, "pooler", None) is not None:
            self.base_model.pooler = None  # not read, and not saved

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        kwargs.pop("return_dict", None)
        out = self.base_model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        pooled = pool(out.last_hidden_state, attention_mask, self.config.{key}, getattr(out, "pooler_output", None))
        dropout = getattr(self, "dropout", None)
        logits = getattr(self, HEAD)(dropout(pooled) if isinstance(dropout, torch.nn.Dropout) else pooled)
        loss = None
        if labels is not None:
            if self.config.problem_type == "regression":
                loss = torch.nn.functional.mse_loss(logits.squeeze(-1), labels.to(logits.dtype).view(-1))
            else:
                loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=getattr(out, "hidden_states", None),
                                        attentions=getattr(out, "attentions", None))
'''


def model_type_for(native_config_type: str) -> str:
    """The model type only the folder's code defines, for a transformers model type (bert -> tuneforge-pooled-bert)."""
    return MODEL_TYPE_PREFIX + native_config_type


def render(native: str, head: str, native_config: str, model_type: str) -> str:
    """The modeling file's text for transformers class ``native`` (config class ``native_config``), head
    linear ``head``, defining the config class of type ``model_type``."""
    return _TEMPLATE.format(native=native, head=head, key=CONFIG_KEY, cls=CLASS_NAME, config_cls=CONFIG_NAME,
                            native_config=native_config, model_type=model_type)


def _render_v1(native: str, head: str) -> str:
    return _TEMPLATE_V1.format(native=native, head=head, key=CONFIG_KEY, cls=CLASS_NAME)


def auto_map() -> dict:
    """config.json's ``auto_map`` of a folder carrying the modeling file."""
    module = CODE_FILE[:-3]
    return {"AutoConfig": f"{module}.{CONFIG_NAME}", AUTO_CLASS: f"{module}.{CLASS_NAME}"}


def _auto_map_v1() -> dict:
    return {AUTO_CLASS: f"{CODE_FILE[:-3]}.{CLASS_NAME}"}


def is_own_auto_map(value) -> bool:
    """Whether ``value`` (a config's ``auto_map``) is one tuneforge writes (this version's or the previous one's)."""
    return value in (auto_map(), _auto_map_v1())


def write_pooling_code(folder: Path, native: str, head: str) -> None:
    """Write the modeling file into ``folder`` and point config.json at it (its model type and ``auto_map``).

    ``native`` is the transformers class the model was saved as; config.json's own ``model_type``
    names the transformers config class the folder's config class extends."""
    import transformers
    folder = Path(folder)
    config_file = folder / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    native_config = getattr(transformers, native).config_class.__name__
    model_type = model_type_for(str(config["model_type"]))
    (folder / CODE_FILE).write_text(render(native, head, native_config, model_type), encoding="utf-8")
    config["model_type"] = model_type
    config["auto_map"] = auto_map()
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def upgrade_pooling_code(folder) -> bool:
    """Rewrite a folder exported by the previous version (model type of transformers' own, so that a plain
    load fell back to the plain class) with this version's file and config; True when it did."""
    folder = Path(folder)
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if config.get("auto_map") != _auto_map_v1():
        return False
    found = _constants(folder)
    if found is None or "NATIVE_CONFIG" in found:
        return False
    write_pooling_code(folder, found["NATIVE"], found["HEAD"])
    return True


def is_tuneforge_code(folder, auto_map_value) -> bool:
    """True when ``auto_map_value`` names only tuneforge's classes and ``folder`` holds an unmodified copy of
    the modeling file (written by this version or the previous one)."""
    if not is_own_auto_map(auto_map_value):
        return False
    return _constants(Path(folder)) is not None


def _constants(folder: Path) -> Optional[dict]:
    """The modeling file's constants (``NATIVE``, ``HEAD``, ``NATIVE_CONFIG`` when present) when the file in
    ``folder`` is exactly what tuneforge writes for them; else None."""
    try:
        text = (folder / CODE_FILE).read_text(encoding="utf-8")
    except OSError:
        return None
    found = {k: m.group(1) for k in ("NATIVE", "HEAD", "NATIVE_CONFIG")
             for m in [re.search(rf'^{k} = "(\w+)"$', text, re.M)] if m}
    if "NATIVE" not in found or "HEAD" not in found:
        return None
    if "NATIVE_CONFIG" not in found:
        return found if text == _render_v1(found["NATIVE"], found["HEAD"]) else None
    model_type = re.search(r'^    model_type = "([\w.-]+)"$', text, re.M)
    expected = model_type and render(found["NATIVE"], found["HEAD"], found["NATIVE_CONFIG"], model_type.group(1))
    if not expected or text != expected:
        return None
    return found


def native_config(folder):
    """config.json of a folder carrying tuneforge's modeling file, read as the transformers config class that
    file extends (``BertConfig``...), without its ``auto_map``; None for any other folder. Nothing in the
    file is run, so an edited copy still reads (its model type names the class).

    The transformers class (``BertForSequenceClassification``) then loads the folder with this config and no
    remote code: tuneforge pools as ``config.tuneforge_pooling`` says, never importing the folder's file."""
    folder = Path(folder)
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not is_own_auto_map(data.get("auto_map")):
        return None
    import transformers
    found = _constants(folder)
    kind = str(data.get("model_type") or "")
    if found is not None:
        cls = (getattr(transformers, found["NATIVE_CONFIG"]) if "NATIVE_CONFIG" in found
               else getattr(transformers, found["NATIVE"]).config_class)
    elif kind.startswith(MODEL_TYPE_PREFIX) and kind[len(MODEL_TYPE_PREFIX):] in transformers.CONFIG_MAPPING:
        # the file was edited (so it is never run), but the model type still names the class it extends
        cls = transformers.CONFIG_MAPPING[kind[len(MODEL_TYPE_PREFIX):]]
    else:
        return None
    data.pop("auto_map", None)
    data.pop("model_type", None)
    data.pop("transformers_version", None)
    return cls.from_dict(data)
