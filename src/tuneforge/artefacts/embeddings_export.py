"""``tuneforge export RUN --sentence-transformers``: a text model's body and pooling as an embedding model.

Writes ``RUN/sentence-transformers/``, a folder ``SentenceTransformer(folder).encode(texts)`` loads
offline (see :mod:`tuneforge.models.sentence_embedding` for what it holds), then checks it on the
first rows of the run's test split (else validation): its embeddings against the features
tuneforge's head reads, L2-normalised when the folder normalises. The folder normalises exactly
when the run's base model is a sentence-transformers folder that does (all-MiniLM-L6-v2 does), so
the embeddings keep the geometry the base model was trained to have.

Runs whose features are not one pooled vector per text of a single text are refused with one
message: image and audio models, token classification (per-token features), causal LMs, text
heads of several layers, and text-pair runs (their head reads both texts encoded together, a
cross-encoder; the embedding of one text alone is not what it learnt).

Example::

    info = export_sentence_transformers(Path("runs/tweets-20261204-031500"))
    info["max_abs_diff"] <= info["tolerance"]
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from ..errors import TuneforgeError
from ..extras import require_extra
from ..models.aliases import resolve_alias
from ..models.sentence_embedding import (ST_FOLDER, ST_NEEDS, ST_TOLERANCE, base_normalizes, embedding_refusal,
                                         embeddings, features_as_embedded, hub_snapshot, load_sentence_transformers,
                                         write_sentence_transformers)
from ..terminal import print_path
from .check_rows import first_rows
from .evaluate_run import load_finished_run

INFO_FILE = "tuneforge_embedding.json"   # inside the folder: the pooling, normalisation and the check


def export_sentence_transformers(run_dir, console=None) -> dict:
    """Write and check ``run_dir/sentence-transformers/``; returns what ``tuneforge_embedding.json`` records."""
    from rich.console import Console

    console = console or Console()
    run_dir = Path(run_dir)
    require_extra("sentence-transformers", ST_NEEDS)
    recipe, task, model = load_finished_run(run_dir)
    refusal = _refusal(recipe, model)
    if refusal:
        raise TuneforgeError(f"{ST_NEEDS}: {run_dir} is a {recipe.task} run, and {refusal}; only text models whose "
                             "head reads one pooled vector per text (text classification, multi-label or regression "
                             "with a single linear head) can be written as a sentence-transformers folder")
    model = model.cpu().eval()
    base = base_folder(recipe.model.name)
    normalize = base_normalizes(base)
    folder = run_dir / ST_FOLDER
    info = write_sentence_transformers(model, folder, recipe.data.max_length, normalize)
    rows = first_rows(recipe, task, model, what=ST_NEEDS)
    diff, scale = embedding_difference(folder, model, rows, normalize)
    limit = ST_TOLERANCE * max(1.0, scale)
    info.update(base_model=recipe.model.name, base_is_sentence_transformers=bool(base and (Path(base) / "modules.json")
                                                                                 .is_file()), checked_examples=len(rows.inputs), checked_split=rows.split_name,
                max_abs_diff=diff, tolerance=limit)
    (folder / INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
    if not diff <= limit:   # a folder that would embed otherwise than the model is not left behind
        shutil.rmtree(folder, ignore_errors=True)
        raise TuneforgeError(f"{ST_NEEDS}: the written folder's embeddings differed from tuneforge's features by "
                             f"{diff:.3g} on {len(rows.inputs)} {rows.split_name} rows (tolerance {limit:.3g}), so it "
                             f"was removed")
    console.print(f"sentence-transformers: {info['pooling']} pooling" + (" + Dense(tanh)" if info["dense_tanh"] else "")
                  + (", normalised (as the base model's own folder)" if normalize else ", not normalised")
                  + f", {info['dimension']} dimensions; encode() vs tuneforge's features on {len(rows.inputs)} "
                  f"{rows.split_name} rows: max abs diff {diff:.3g} (tolerance {limit:.3g})")
    print_path(console, "sentence-transformers", folder)
    return info


def _refusal(recipe, model) -> str:
    if isinstance(recipe.data.text_column, list):
        return ("its head reads two texts encoded together (a cross-encoder), so the embedding of one text alone is "
                "not what it learnt")
    return embedding_refusal(model) or ""


def base_folder(name: str):
    """The local folder of the run's base model (``model.name``: an alias, a folder, or a cached hub id), or None."""
    spec = resolve_alias(name)
    if spec is not None:
        return spec.path if spec.kind == "hf" and Path(spec.path).is_dir() else None
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    return hub_snapshot(name)


def embedding_difference(folder, model, rows, normalize: bool) -> tuple[float, float]:
    """(max |encode(texts) - tuneforge's features|, max |features|) on ``rows``' texts."""
    embedder = load_sentence_transformers(folder)
    got = embeddings(embedder, [str(t) for t in rows.inputs])
    with torch.no_grad():
        expected = features_as_embedded(model.features(rows.batch).float().cpu(), normalize)
    if got.shape != expected.shape:
        return float("inf"), float(expected.abs().max())
    return float((got - expected).abs().max()), float(expected.abs().max())
