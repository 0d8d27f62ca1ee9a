"""A fine-tuned text model's body and pooling as a sentence-transformers folder (embeddings).

A text classifier, multi-label or regression model whose head is one linear layer reads one pooled
vector per text (:mod:`tuneforge.models.pooling`). That vector is a sentence embedding: written
with sentence-transformers' own modules (``Transformer`` for the body and its tokenizer, ``Pooling``
for the pooling, ``Dense`` with tanh for BERT's pre-trained pooler, ``Normalize`` when the base
model's own sentence-transformers folder normalises) and saved with ``SentenceTransformer.save``,
``SentenceTransformer(folder).encode(texts)`` gives the features tuneforge's head reads (L2-normalised
when ``Normalize`` is there), with the run's ``data.max_length`` as the longest input.

The poolings map one to one: ``mean`` -> ``mean``, ``cls`` -> ``cls``, ``last`` -> ``lasttoken``,
``pooler`` -> ``cls`` + ``Dense(tanh)`` holding the pooler's weights. Models whose features are
not one such pooling of the body are refused (:func:`embedding_refusal`): image and audio models,
per-token heads (token classification), causal LMs (no pooled features: their head is the
language-model head), and text heads of several layers (RoBERTa's, DistilBERT's), whose input is
already past a dense layer of the head.

Example::

    write_sentence_transformers(model, run_dir / "sentence-transformers", max_length=128, normalize=False)
"""
from __future__ import annotations

import copy
import json
import shutil
import tempfile
from pathlib import Path
from typing import Optional

import torch

from ..errors import ModelError
from ..extras import require_extra
from .hf_loading import quiet_transformers
from .pooling import CONFIG_KEY, POOLINGS
from .task_model import TaskModel

ST_FOLDER = "sentence-transformers"   # under the run folder
ST_NEEDS = "tuneforge export --sentence-transformers"
# encode() against TaskModel.features on the same texts: the same float32 operations in another order
ST_TOLERANCE = 1e-5
_ST_MODE = {"mean": "mean", "cls": "cls", "last": "lasttoken", "pooler": "cls"}


def embedding_refusal(model: TaskModel) -> Optional[str]:
    """Why ``model``'s features cannot be a sentence-transformers folder, in words; None when they can."""
    choice = model.pooling_choice
    if model.kind == "hf" and choice is None:
        return (f"its model ({type(model.net).__name__}) has no pooled features: a causal language model's head is "
                "its language-model head, which reads every token")
    if choice is not None and choice.how == "tokens":
        return ("its head reads every token's state (per-token tags), not one vector per text; its body is an "
                "encoder, but a sentence embedding of it is not what the run trained")
    if model.kind != "hf" or model.modality != "text" or choice is None:
        return (f"its inputs are {model.modality} ({type(model.net).__name__}), and a sentence-transformers folder "
                "embeds texts")
    if not choice.own or choice.how not in POOLINGS:
        return (f"its head ({type(model.net).__name__}) has several layers that pool by themselves ({choice.how}), "
                "so the features it reads are already past a dense layer of the head, not a pooling of the body")
    return None


def base_normalizes(folder) -> bool:
    """Whether the sentence-transformers folder ``folder`` (the run's base model) ends with ``Normalize``."""
    if folder is None:
        return False
    try:
        modules = json.loads((Path(folder) / "modules.json").read_text(encoding="utf-8"))
        return any(str(m.get("type", "")).endswith("Normalize") for m in modules)
    except (OSError, ValueError, AttributeError, TypeError):
        return False


def hub_snapshot(hub_id: str) -> Optional[str]:
    """The cached snapshot folder of hub id ``hub_id`` when its ``modules.json`` is in the cache, else None."""
    try:
        from huggingface_hub import try_to_load_from_cache
        found = try_to_load_from_cache(str(hub_id), "modules.json")
    except (ValueError, OSError):
        return None
    return str(Path(found).parent) if isinstance(found, str) else None


def write_sentence_transformers(model: TaskModel, folder, max_length: int, normalize: bool) -> dict:
    """Write ``model``'s body, pooling (and ``Normalize``) into ``folder`` (replaced); returns what it holds.

    Raises ModelError (with :func:`embedding_refusal`'s reason) for a model whose features are not a
    pooling of its body. Needs the sentence-transformers extra (MissingExtra otherwise).
    """
    why = embedding_refusal(model)
    if why is not None:
        raise ModelError(f"this model cannot be written as a sentence-transformers folder: {why}")
    require_extra("sentence-transformers", ST_NEEDS)
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer

    how = model.pooling
    folder = Path(folder)
    body = copy.deepcopy(model.net.base_model).cpu().eval()
    for key in (CONFIG_KEY, "auto_map", "id2label", "label2id", "problem_type"):
        if key in body.config.__dict__:
            delattr(body.config, key)
    body.config.architectures = None
    with tempfile.TemporaryDirectory(prefix="tuneforge-st-") as tmp, quiet_transformers():
        body.save_pretrained(tmp)
        model.preprocessor.save_pretrained(tmp)
        transformer = Transformer(tmp, max_seq_length=int(max_length))
        _zero_unread_pooler(transformer.auto_model, how)
        dim = transformer.get_embedding_dimension()
        modules = [transformer, Pooling(dim, _ST_MODE[how])]
        if how == "pooler":
            dense = model.net.base_model.pooler.dense
            modules.append(Dense(dim, dense.out_features, activation_function=torch.nn.Tanh(),
                                 init_weight=dense.weight.detach().clone().cpu(),
                                 init_bias=dense.bias.detach().clone().cpu()))
        if normalize:
            modules.append(Normalize())
        embedder = SentenceTransformer(modules=modules, device="cpu")
        if folder.exists():
            shutil.rmtree(folder)
        embedder.save(str(folder), create_model_card=True)
    return {"pooling": how, "sentence_transformers_pooling": _ST_MODE[how], "dense_tanh": how == "pooler",
            "normalize": bool(normalize), "max_seq_length": int(max_length),
            "dimension": int(embedder.get_embedding_dimension())}


@torch.no_grad()
def _zero_unread_pooler(net, how: str) -> None:
    """The body's own pooler layer, when sentence-transformers builds one that the pooling never reads
    (tuneforge drops it): zeros rather than random weights, so nothing pretends to be trained."""
    pooler = getattr(net, "pooler", None)
    if how != "pooler" and pooler is not None:
        for p in pooler.parameters():
            p.zero_()


def load_sentence_transformers(folder):
    """``SentenceTransformer(folder)`` on the CPU, offline, as its README says."""
    require_extra("sentence-transformers", "loading a sentence-transformers folder")
    from sentence_transformers import SentenceTransformer
    with quiet_transformers():
        return SentenceTransformer(str(folder), device="cpu", local_files_only=True)


def embeddings(embedder, texts: list[str], batch_size: int = 32) -> torch.Tensor:
    """``embedder.encode(texts)`` as a float32 tensor."""
    with quiet_transformers():
        out = embedder.encode(list(texts), batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False)
    return out.float().cpu()


def features_as_embedded(features: torch.Tensor, normalize: bool) -> torch.Tensor:
    """tuneforge's features as the folder embeds them (L2-normalised when it holds ``Normalize``)."""
    return torch.nn.functional.normalize(features, dim=-1) if normalize else features

