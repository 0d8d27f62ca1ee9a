"""Retention: what the pre-trained model knew, measured before and after fine-tuning.

Three measurements, each used where it applies (``evaluate.retention`` in the recipe):

* **labelled source data** (``evaluate.retention.data``): half of it fits a linear probe on
  the *pre-trained* features; on the other half that same probe is scored on pre-trained
  features ("before") and on fine-tuned features ("after"); a probe re-fitted on the
  fine-tuned features shows whether the knowledge is still there but moved;
* **a vision model that came with a classifier**: a frozen copy with its original head
  (``keep_head=True``) predicts the probe set; then the *fine-tuned backbone* with that
  same original head predicts it again; the share of equal predictions is reported;
* **representations** (every model): Spearman correlation of pairwise cosine
  similarities of pooled embeddings, and linear CKA per block of the layer map,
  pre-trained vs fine-tuned.

The probe set is the source data when given, else the test split (or validation, or
train), at most ``probe_size`` examples. ``score`` is the headline number in [0, 1]:
source-task after/before, else original-head agreement, else embedding Spearman.
"""
from __future__ import annotations

import copy
from typing import Optional

import numpy as np

from ..data import encode_split
from ..data.bundle import Split
from ..data.modalities import MODALITIES
from ..data.splits import stratified_split, stratified_subset
from ..errors import ModelError
from ..evaluation import extract_features, predict_outputs
from ..evaluation.baseline import fit_linear_probe
from ..evaluation.representation import (block_features, block_modules, linear_cka, prediction_agreement,
                                         similarity_preservation)
from ..tasks.classification import classification_task_for
from ..data import load_data
from ..recipe.schema import DataSection
from ..models.loading import resolve


def measure_retention(p, finetuned, device, console=None) -> dict:
    """The retention dict of a run (``p`` is the pipeline's ``Prepared``; ``finetuned`` its model)."""
    section = p.recipe.evaluate.retention
    bs = p.recipe.evaluate.batch_size
    pretrained = _pretrained_copy(p).to(device)
    probe_split, source = _probe_split(p, section)
    enc = encode_split(probe_split, pretrained, p.recipe.data)
    out: dict = {"probe_examples": len(enc), "probe_source": source}
    before, _ = extract_features(pretrained, enc, bs, device)
    after, _ = extract_features(finetuned, enc, bs, device)
    out["embedding_spearman"] = similarity_preservation(before, after)
    modules = {b: m for b, m in block_modules(pretrained.layer_map).items() if _has(finetuned, m)}
    fb = block_features(pretrained, enc, modules, bs, device)
    fa = block_features(finetuned, enc, modules, bs, device)
    out["cka"] = {b: linear_cka(fb[b], fa[b]) for b in fb if b in fa}
    out["mean_cka"] = float(np.mean(list(out["cka"].values()))) if out["cka"] else float("nan")
    if section.data:
        out["source_task"] = _source_task(p, pretrained, finetuned, probe_split, device)
    elif MODALITIES.get(p.task.modality).original_classifier:
        agreement, why = _original_head_agreement(p, finetuned, probe_split, device)
        out["original_head_agreement"] = agreement
        if why:
            out["original_head_note"] = why
    out["score"] = _headline(out)
    return out


def _headline(out: dict) -> float:
    src = out.get("source_task")
    if src and src["before"]:
        return float(src["after"] / src["before"])
    if out.get("original_head_agreement") is not None:
        return float(out["original_head_agreement"])
    return float(out["embedding_spearman"])


def _has(model, module: str) -> bool:
    try:
        model.net.get_submodule(module)
        return True
    except AttributeError:
        return False


def _pretrained_copy(p, keep_head: bool = False, num_outputs: Optional[int] = None):
    d = p.data
    return p.task.build_model(p.recipe.model, None if keep_head else d.label_names,
                              image_size=p.recipe.data.image_size, keep_head=keep_head,
                              num_outputs=num_outputs or p.task.num_outputs(d.label_names))


def _probe_split(p, section) -> tuple[Split, str]:
    seed = p.recipe.train.seed
    if section.data:
        data = DataSection(train=section.data, validation=None, test=None, text_column=section.text_column,
                           image_column=section.image_column, label_column=section.label_column,
                           max_train_samples=2 * section.probe_size, max_length=p.recipe.data.max_length,
                           image_size=p.recipe.data.image_size)
        bundle = load_data(data, classification_task_for(p.task.modality), seed)
        return bundle.train, f"{section.data} ({len(bundle.train)} labelled rows)"
    for name in ("test", "validation", "train"):
        split = getattr(p.data, name)
        if split is not None:
            labels = p.task.retention_targets(split.targets)
            return split.subset(stratified_subset(labels, len(split), section.probe_size, seed)), f"{name} split"
    raise AssertionError("a run always has a train split")


def _source_task(p, pretrained, finetuned, split: Split, device) -> dict:
    bs, seed = p.recipe.evaluate.batch_size, p.recipe.train.seed
    y = split.targets
    fit, held = stratified_split(y, len(y), 0.5, seed, what="the retention probe's evaluation half")
    k = int(y.max()) + 1
    enc_fit = encode_split(split.subset(fit), pretrained, p.recipe.data)
    enc_held = encode_split(split.subset(held), pretrained, p.recipe.data)
    feats = {name: (extract_features(model, enc_fit, bs, device)[0], extract_features(model, enc_held, bs, device)[0])
             for name, model in (("pre", pretrained), ("ft", finetuned))}
    probe = fit_linear_probe(feats["pre"][0], y[fit], k, seed)
    refit = fit_linear_probe(feats["ft"][0], y[fit], k, seed)
    source = classification_task_for(p.task.modality)
    score = lambda logits: source.compute_metrics(y[held], logits, None)["accuracy"]  # noqa: E731
    return {"metric": "accuracy", "examples": int(len(held)), "before": score(probe(feats["pre"][1])),
            "after": score(probe(feats["ft"][1])), "after_refit": score(refit(feats["ft"][1]))}


def _original_head_size(p) -> Optional[int]:
    spec, _ = resolve(p.recipe.model)
    if spec.kind == "timm":
        import timm
        import torch
        with torch.device("meta"):
            return int(timm.create_model(spec.path, pretrained=False).num_classes) or None
    from transformers import AutoConfig
    config = AutoConfig.from_pretrained(spec.path, local_files_only=True)
    has_head = any("ForImageClassification" in a for a in (config.architectures or []))
    return int(config.num_labels) if has_head else None


def _original_head_agreement(p, finetuned, split: Split, device) -> tuple[Optional[float], Optional[str]]:
    """Original head on the pre-trained vs the fine-tuned backbone: share of equal predictions."""
    try:
        size = _original_head_size(p)
        if size is None:
            return None, "the pre-trained checkpoint has no classifier of its own"
        original = _pretrained_copy(p, keep_head=True, num_outputs=size).to(device)
    except (ModelError, OSError, ValueError) as e:
        return None, f"the original classifier could not be loaded ({e})"
    mixed = copy.deepcopy(original)
    head = set(original.layer_map.head.params)
    tuned = finetuned.net.state_dict()
    state = {k: tuned[k] if k in tuned and k not in head and tuned[k].shape == v.shape else v
             for k, v in mixed.net.state_dict().items()}
    mixed.net.load_state_dict(state)
    enc = encode_split(split, original, p.recipe.data)
    bs = p.recipe.evaluate.batch_size
    return prediction_agreement(predict_outputs(original, enc, bs, device),
                                predict_outputs(mixed, enc, bs, device)), None
