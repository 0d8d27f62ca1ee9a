"""Which features the task head reads: the pooling of a model family, and why.

A text classifier turns the backbone's token states ``[B, T, D]`` into one vector per
example before its final linear layer. Which vector is a property of how the checkpoint
was pre-trained, and reading the wrong one wastes the pre-training (MiniLM-L6 was trained
by sentence-transformers to be mean-pooled; BertForSequenceClassification reads its
first-token pooler instead):

* ``mean``: the average of the real tokens' states (sentence-transformers models);
* ``cls``: the first token's state (encoders without a pre-trained pooler);
* ``pooler``: the pre-trained pooler of BERT-like checkpoints (dense + tanh on the first token);
* ``last``: the last real token's state (decoders, which see the text left to right).

``model.pooling: auto`` (the default) follows the checkpoint, in this order: a pooling
tuneforge recorded in config.json (an exported run), a sentence-transformers pooling
config (``modules.json`` + ``1_Pooling/config.json``), ``last`` for decoders, ``pooler``
for encoders whose pooler weights are in the checkpoint, else ``cls``.

A text model takes another pooling than its own only when its new head is a single linear
layer (BERT-like ``classifier``, a decoder's ``score``): tuneforge then pools the
backbone's states itself. Image models (timm, Hugging Face ViT...) and text heads with more
layers (RoBERTa's, DistilBERT's) keep the model's own pooling; ``auto``, or naming the
pooling they have, are accepted, anything else is an error.

Example::

    choice = resolve_text_pooling("auto", net, "minilm-l6", folder, pooler_in_checkpoint=True)
    choice.how, choice.source     # ("mean", "sentence-transformers pooling config (1_Pooling/config.json)")
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from ..errors import ModelError
from .families.bert import bert_layer_map
from .families.decoder import decoder_layer_map

POOLINGS = ("cls", "mean", "pooler", "last")
CONFIG_KEY = "tuneforge_pooling"   # config.json attribute where an exported model records its pooling
# sentence-transformers pooling modes tuneforge implements (1_Pooling/config.json keys)
_ST_MODES = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean", "pooling_mode_lasttoken": "last"}


@dataclass(frozen=True)
class Pooling:
    """A resolved pooling.

    ``how``: cls | mean | pooler | last, or, for a model that pools itself, what it does
    (timm's ``global_pool`` type, e.g. ``max``). ``source``: why, in words. ``own``: True
    when tuneforge pools the backbone's states itself and feeds the single linear ``head``
    (module name in the network, after the optional ``dropout`` module); False when the
    model's own forward pools.
    """

    how: str
    source: str
    own: bool = False
    head: Optional[str] = None
    dropout: Optional[str] = None

    def describe(self) -> str:
        return f"{self.how}: {self.source}"


def pool(hidden: torch.Tensor, attention_mask: Optional[torch.Tensor], how: str,
         pooler_output: Optional[torch.Tensor] = None) -> torch.Tensor:
    """One vector per example ``[B, D]`` from token states ``hidden`` ``[B, T, D]``.

    ``attention_mask`` marks real tokens (1) and padding (0), on either side; without it
    every token is real. ``pooler`` returns ``pooler_output`` as is.
    """
    if how == "pooler":
        if pooler_output is None:
            raise RuntimeError("pooling 'pooler' but the backbone returned no pooler_output")
        return pooler_output
    if how == "cls":
        return hidden[:, 0]
    if attention_mask is None:
        attention_mask = torch.ones(hidden.shape[:2], dtype=torch.long, device=hidden.device)
    if how == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
    if how == "last":  # the rightmost real token: works for right and left padding
        positions = torch.arange(hidden.shape[1], device=hidden.device)
        last = (positions * (attention_mask != 0).to(positions.dtype)).argmax(-1)
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    raise ValueError(f"unknown pooling {how!r}; expected one of {', '.join(POOLINGS)}")


# -- what the checkpoint says --------------------------------------------------------------------

def sentence_transformers_pooling(folder) -> Optional[tuple[str, str]]:
    """(pooling, where it was read) declared by a sentence-transformers folder, or None.

    The pooling module is the ``modules.json`` entry of type ``...Pooling``; its
    ``config.json`` switches modes on. A mode tuneforge does not implement (max, weighted
    mean, several at once) gives ("", why).
    """
    if folder is None or not Path(folder).is_dir():
        return None
    folder = Path(folder)
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        entry = next(m for m in modules if str(m.get("type", "")).endswith("Pooling"))
        where = Path(entry.get("path") or "1_Pooling") / "config.json"
        config = json.loads((folder / where).read_text(encoding="utf-8"))
    except (OSError, ValueError, StopIteration, AttributeError, TypeError):
        return None
    on = [k for k, v in config.items() if k.startswith("pooling_mode") and v is True]
    if len(on) == 1 and on[0] in _ST_MODES:
        return _ST_MODES[on[0]], f"sentence-transformers pooling config ({where.as_posix()})"
    return "", f"its sentence-transformers pooling ({', '.join(on) or 'none'}) is not one tuneforge implements"


def checkpoint_keys(folder) -> Optional[set[str]]:
    """Tensor names in a folder's safetensors weights (headers only), or None when unknown."""
    if folder is None or not Path(folder).is_dir():
        return None
    folder = Path(folder)
    index = folder / "model.safetensors.index.json"
    try:
        if index.is_file():
            return set(json.loads(index.read_text(encoding="utf-8"))["weight_map"])
        if (folder / "model.safetensors").is_file():
            from safetensors import safe_open
            with safe_open(str(folder / "model.safetensors"), "pt") as f:
                return set(f.keys())
    except Exception:  # unreadable weights get their own message where they are loaded
        return None
    return None


def has_pooler_keys(keys) -> bool:
    return any((".pooler." in f".{k}") for k in keys)


# -- resolution ----------------------------------------------------------------------------------

def text_role(net: nn.Module) -> str:
    """ "encoder" (BERT-like), "decoder" (Llama, GPT...) or "other" for a Hugging Face text network."""
    if bert_layer_map(net) is not None:
        return "encoder"
    return "decoder" if decoder_layer_map(net) is not None else "other"


def _single_linear_head(net: nn.Module, head_modules: list[str]) -> Optional[str]:
    if len(head_modules) == 1 and isinstance(net.get_submodule(head_modules[0]), nn.Linear):
        return head_modules[0]
    return None


def native_pooling(net: nn.Module) -> Optional[str]:
    """What the transformers class of ``net`` pools by itself, when tuneforge knows it."""
    role = text_role(net)
    if role == "decoder":
        return "last"
    if getattr(net.base_model, "pooler", None) is not None:
        return "pooler"
    return "cls" if role == "encoder" else None


def resolve_text_pooling(requested: str, net: nn.Module, head_modules: list[str], name: str, folder=None,
                         pooler_in_checkpoint: Optional[bool] = None) -> Pooling:
    """The pooling a Hugging Face text model gets, or ModelError naming ``model.pooling``.

    ``head_modules``: the new head's top-level modules; ``folder``: the local model folder
    (for a sentence-transformers config), if any; ``pooler_in_checkpoint``: whether the
    checkpoint held pooler weights (None: unknown, taken as yes).
    """
    role = text_role(net)
    linear = _single_linear_head(net, head_modules)
    dropout = "dropout" if isinstance(getattr(net, "dropout", None), nn.Dropout) else None
    has_pooler = getattr(net.base_model, "pooler", None) is not None and pooler_in_checkpoint is not False
    if linear is None:  # the model's own head pools (RoBERTa, DistilBERT...): only its own pooling
        own = "cls" if role == "encoder" else (native_pooling(net) or "model")
        src = f"{type(net).__name__}'s own head reads it (a head of several layers keeps its pooling)"
        if requested not in ("auto", own):
            raise ModelError(f"model.pooling: {requested!r} needs a head that is a single linear layer, but "
                             f"{name!r} ({type(net).__name__}) has a head of several layers that pools by itself "
                             f"({own}); use model.pooling: auto")
        return Pooling(own, src)
    if requested == "auto":
        how, source = _auto(net, role, has_pooler, folder)
    else:
        how, source = requested, "set by model.pooling"
        _check(how, role, has_pooler, name, getattr(net.base_model, "pooler", None) is not None)
    return Pooling(how, source, own=True, head=linear, dropout=dropout)


def _auto(net: nn.Module, role: str, has_pooler: bool, folder) -> tuple[str, str]:
    recorded = getattr(net.config, CONFIG_KEY, None)
    if recorded in POOLINGS:
        return recorded, f"recorded by tuneforge in config.json ({CONFIG_KEY})"
    st = sentence_transformers_pooling(folder)
    note = ""
    if st is not None and st[0] and (st[0] != "last" or role == "decoder") and (st[0] != "cls" or role != "decoder"):
        return st
    if st is not None:
        note = f" ({st[1]})" if not st[0] else f" (its sentence-transformers {st[0]} pooling does not fit a {role})"
    if role == "decoder":
        return "last", "a decoder: the last real token has read the whole text" + note
    if has_pooler:
        return "pooler", "the checkpoint holds pre-trained pooler weights" + note
    return "cls", "an encoder without a pre-trained pooler reads the first token" + note


def _check(how: str, role: str, has_pooler: bool, name: str, pooler_module: bool) -> None:
    if how == "pooler" and not has_pooler:
        why = ("its checkpoint holds no pooler weights, so the pooler would be random" if pooler_module
               else "it has no pooler layer")
        raise ModelError(f"model.pooling: 'pooler' needs a pre-trained pooler, but {name!r} {why}; "
                         "use cls or mean")
    if how in ("cls", "pooler") and role == "decoder":
        raise ModelError(f"model.pooling: {how!r} reads the first token, but {name!r} is a decoder, whose first "
                         "token has seen nothing of the text; use last or mean")
    if how == "last" and role != "decoder":
        raise ModelError(f"model.pooling: 'last' is for decoders, but {name!r} is an encoder, whose last token is "
                         "the end marker; use cls, mean or pooler")


def resolve_image_pooling(requested: str, own: str, source: str, name: str) -> Pooling:
    """Image models keep their own pooling ``own``; ``auto`` or naming it is accepted."""
    if requested not in ("auto", own):
        raise ModelError(f"model.pooling: {requested!r} cannot be set for the image model {name!r}, which pools "
                         f"by itself ({own}: {source}); use model.pooling: auto")
    return Pooling(own, source)


def timm_pooling(net: nn.Module) -> tuple[str, str]:
    """(pooling, source) of a timm model: its ``global_pool`` ('avg' -> mean, 'token' -> cls)."""
    gp = getattr(net, "global_pool", None)
    kind = gp if isinstance(gp, str) else getattr(gp, "pool_type", None)
    kind = str(kind or "avg")
    return {"avg": "mean", "token": "cls"}.get(kind, kind), f"the timm model's own global_pool ({kind!r})"
