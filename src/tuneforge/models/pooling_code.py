"""The modeling file an exported text model carries when transformers' own class pools differently.

BertForSequenceClassification reads the pooler and LlamaForSequenceClassification the last
token, so a model tuneforge trained with mean or cls pooling would give other logits if
loaded with the plain class. :func:`write_pooling_code` then writes ``tuneforge_pooling.py``
beside the weights (a subclass of the transformers class that pools as tuneforge did) and
points ``auto_map`` at it, so that ``AutoModelForSequenceClassification.from_pretrained(folder)``
with remote code trusted (its ``trust_remote_code`` argument set to true) gives tuneforge's
logits. The pooling is recorded in config.json either way (``tuneforge_pooling``). Without
trusting the folder's code, transformers builds its own
class and warns that the pooler weights are missing (they are not saved: the model never
read them).

tuneforge itself never imports that file: it reloads the folder with the transformers class
and pools from ``tuneforge_pooling``. :func:`is_tuneforge_code` recognises a folder whose
``auto_map`` points only at an unmodified copy of this file, so the "no model code unless
trusted" rule does not stop fine-tuning an exported model again.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

from .pooling import CONFIG_KEY

CODE_FILE = "tuneforge_pooling.py"
CLASS_NAME = "TuneforgePooledForSequenceClassification"
AUTO_CLASS = "AutoModelForSequenceClassification"

_TEMPLATE = '''"""Written by tuneforge: {native} that pools its token states as it was fine-tuned.

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


def render(native: str, head: str) -> str:
    """The modeling file's text for transformers class ``native`` with head linear ``head``."""
    return _TEMPLATE.format(native=native, head=head, key=CONFIG_KEY, cls=CLASS_NAME)


def write_pooling_code(folder: Path, native: str, head: str) -> None:
    """Write the modeling file into ``folder`` and point config.json's ``auto_map`` at it."""
    folder = Path(folder)
    (folder / CODE_FILE).write_text(render(native, head), encoding="utf-8")
    config_file = folder / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["auto_map"] = {AUTO_CLASS: f"{CODE_FILE[:-3]}.{CLASS_NAME}"}
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def is_tuneforge_code(folder, auto_map) -> bool:
    """True when ``auto_map`` names only tuneforge's pooling class and ``folder`` holds an unmodified copy."""
    if not isinstance(auto_map, dict) or auto_map != {AUTO_CLASS: f"{CODE_FILE[:-3]}.{CLASS_NAME}"}:
        return False
    file = Path(folder) / CODE_FILE
    try:
        text = file.read_text(encoding="utf-8")
    except OSError:
        return False
    found = _constants(text)
    return found is not None and text == render(*found)


def _constants(text: str) -> Optional[tuple[str, str]]:
    native = re.search(r'^NATIVE = "(\w+)"$', text, re.M)
    head = re.search(r'^HEAD = "(\w+)"$', text, re.M)
    return (native.group(1), head.group(1)) if native and head else None
