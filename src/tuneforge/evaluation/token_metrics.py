"""Token-classification metrics: entity-level precision / recall / F1 (seqeval), per type, token accuracy.

Entities are read from BIO tags two ways, as seqeval does: the **default** (conlleval) mode,
where an ``I-X`` after ``O`` or after another type still opens an entity, and the **strict**
mode (IOB2 scheme), where only a well-formed ``B-X I-X ...`` run is an entity. ``entity_f1``
(monitored by default) is the micro F1 of the default mode; ``entity_f1_strict`` the strict one.

Everything is computed from per-sentence counts (true positives, predicted and gold entities,
correct and total tokens), so the micro scores equal seqeval's over the whole corpus, and a
bootstrap over **sentences** only re-sums those counts (fast: no re-decoding per resample).

Model outputs here are per word: ``[N, W, K]`` logits (NaN where a word has no prediction,
which then counts as ``O``), or ``[N, 1, K]`` for a predictor that gives every word the same
scores (the majority baseline). Targets are one array of tag ids per sentence.

Example::

    m = token_metrics([np.array([1, 2, 0])], logits, ["O", "B-PER", "I-PER"])
    m["entity_f1"], m["per_type"]["PER"]["f1"], m["token_accuracy"]
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..errors import DataError
from .bootstrap import percentile_interval
from .metrics import register_metric, set_default_metric

KIND = "token-classification"
_COUNTS = ("tp", "pred", "gold", "tp_strict", "pred_strict", "gold_strict", "correct", "tokens")
SCALARS = ("entity_f1", "entity_precision", "entity_recall", "entity_f1_strict", "entity_precision_strict",
           "entity_recall_strict", "token_accuracy")
CHUNK = 200

for _name, _what in (
        ("entity_f1", "entity-level micro F1 over BIO spans (seqeval default / conlleval mode)"),
        ("entity_precision", "entity-level micro precision (seqeval default mode)"),
        ("entity_recall", "entity-level micro recall (seqeval default mode)"),
        ("entity_f1_strict", "entity-level micro F1, strict IOB2 spans (seqeval mode='strict')"),
        ("entity_precision_strict", "entity-level micro precision, strict IOB2 spans"),
        ("entity_recall_strict", "entity-level micro recall, strict IOB2 spans"),
        ("token_accuracy", "fraction of words whose predicted tag is right")):
    register_metric(_name, KIND, _what, lambda *a: float("nan"))
set_default_metric(KIND, "entity_f1")


def as_sentences(targets) -> list[np.ndarray]:
    """One tag-id array per sentence, from a list of arrays or a ``[N, W]`` array padded with -100."""
    if isinstance(targets, np.ndarray) and targets.dtype != object and targets.ndim == 2:
        return [row[row >= 0] for row in targets]
    return [np.asarray(t, dtype=np.int64) for t in targets]


def check_tags(names: Sequence[str], where: str) -> None:
    """Tags must be ``O`` or ``B-TYPE`` / ``I-TYPE`` (BIO / IOB2)."""
    bad = [n for n in names if n != "O" and not (len(n) > 2 and n[:2] in ("B-", "I-"))]
    if bad:
        raise DataError(f"{where}: tag {bad[0]!r} is not BIO; token classification reads tags as 'O', "
                        f"'B-TYPE' or 'I-TYPE' ({len(bad)} tag(s) like this)")


def outside_index(names: Sequence[str]) -> int:
    """The id of ``O`` (what a word without a prediction gets); the first tag when there is none."""
    return list(names).index("O") if "O" in names else 0


def predicted_ids(outputs: np.ndarray, lengths: Sequence[int], names: Sequence[str]) -> list[np.ndarray]:
    """Each sentence's predicted tag ids (argmax per word; a word without outputs is ``O``)."""
    out = np.asarray(outputs, dtype=np.float32)
    o = outside_index(names)
    result = []
    for i, n in enumerate(lengths):
        rows = out[i] if out.shape[1] != 1 else np.repeat(out[i], n, axis=0)
        ids = np.full(n, o, dtype=np.int64)
        m = min(n, len(rows))
        ok = ~np.isnan(rows[:m]).any(axis=1)
        ids[:m][ok] = rows[:m][ok].argmax(axis=1)
        result.append(ids)
    return result


def entities(tags: Sequence[str], strict: bool = False) -> set[tuple[str, int, int]]:
    """``{(type, first word, last word)}`` of one sentence's tags (seqeval default or strict IOB2)."""
    if strict:
        from seqeval.scheme import IOB2, Entities
        return {(e.tag, e.start, e.end - 1) for e in Entities([list(tags)], IOB2).entities[0]}
    from seqeval.metrics.sequence_labeling import get_entities
    return set(get_entities(list(tags)))


def _names(ids: np.ndarray, names: Sequence[str]) -> list[str]:
    return [names[int(i)] for i in ids]


def sentence_counts(targets, pred_ids: list[np.ndarray], names: Sequence[str]) -> tuple[np.ndarray, dict]:
    """Per-sentence counts ``[N, 8]`` (see ``_COUNTS``) and per-type counts ``{type: [tp, pred, gold]}``."""
    counts = np.zeros((len(pred_ids), len(_COUNTS)), dtype=np.int64)
    per_type: dict[str, np.ndarray] = {}
    for i, (gold_ids, pred) in enumerate(zip(targets, pred_ids)):
        gold_tags, pred_tags = _names(gold_ids, names), _names(pred, names)
        g, p = entities(gold_tags), entities(pred_tags)
        gs, ps = entities(gold_tags, True), entities(pred_tags, True)
        counts[i] = (len(g & p), len(p), len(g), len(gs & ps), len(ps), len(gs),
                     int((np.asarray(gold_ids) == pred).sum()), len(pred))
        for kind, group in ((0, g & p), (1, p), (2, g)):
            for e in group:
                per_type.setdefault(e[0], np.zeros(3, dtype=np.int64))[kind] += 1
    return counts, per_type


def _prf(tp, pred, gold):
    tp, pred, gold = (np.asarray(v, dtype=np.float64) for v in (tp, pred, gold))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(pred > 0, tp / np.maximum(pred, 1), 0.0)
        r = np.where(gold > 0, tp / np.maximum(gold, 1), 0.0)
        f = np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1), 0.0)
    return p, r, f


def scalars(sums: np.ndarray) -> dict[str, np.ndarray]:
    """The scalar metrics from summed counts (``[..., 8]``); zero where undefined, as seqeval's zero_division=0."""
    s = np.asarray(sums)
    p, r, f = _prf(s[..., 0], s[..., 1], s[..., 2])
    ps, rs, fs = _prf(s[..., 3], s[..., 4], s[..., 5])
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(s[..., 7] > 0, s[..., 6] / np.maximum(s[..., 7], 1), np.nan)
    return {"entity_f1": f, "entity_precision": p, "entity_recall": r, "entity_f1_strict": fs,
            "entity_precision_strict": ps, "entity_recall_strict": rs, "token_accuracy": acc}


def type_confusion(targets, pred_ids, names) -> dict:
    """Gold type x predicted type over entities: each gold entity meets the predicted entity that overlaps it
    most (``O``: none, a miss); a predicted entity overlapping no gold one is a row ``O`` (a false alarm)."""
    types = sorted({n[2:] for n in names if n != "O"})
    labels = types + ["O"]
    at = {t: i for i, t in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for gold_ids, pred in zip(targets, pred_ids):
        g = sorted(entities(_names(gold_ids, names)))
        p = sorted(entities(_names(pred, names)))
        hit = set()
        for gt, gs, ge in g:
            best, size = None, 0
            for j, (pt, ps, pe) in enumerate(p):
                overlap = min(ge, pe) - max(gs, ps) + 1
                if overlap > size:
                    best, size = j, overlap
            if best is None:
                matrix[at[gt], at["O"]] += 1
            else:
                hit.add(best)
                matrix[at[gt], at[p[best][0]]] += 1
        for j, (pt, _, _) in enumerate(p):
            if j not in hit:
                matrix[at["O"], at[pt]] += 1
    return {"labels": labels, "matrix": matrix.tolist()}


def token_metrics(targets, outputs, names: Sequence[str]) -> dict:
    """Every metric of one split (JSON-ready): scalars, ``per_type`` and ``type_confusion``."""
    names, targets = list(names), as_sentences(targets)
    lengths = [len(t) for t in targets]
    pred = predicted_ids(outputs, lengths, names)
    counts, per_type = sentence_counts(targets, pred, names)
    result = {k: float(v) for k, v in scalars(counts.sum(0)).items()}
    result["per_type"] = {}
    for t in sorted({n[2:] for n in names if n != "O"}):
        tp, npred, ngold = per_type.get(t, np.zeros(3, dtype=np.int64))
        p, r, f = _prf(tp, npred, ngold)
        result["per_type"][t] = {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(ngold)}
    result["type_confusion"] = type_confusion(targets, pred, names)
    result["sentences"], result["entities"] = len(targets), int(counts[:, 2].sum())
    return result


def _resampled(counts: np.ndarray, resamples: int, seed: int, metrics: Optional[Sequence[str]] = None):
    """Each scalar metric on ``resamples`` bootstrap resamples of the sentences."""
    rng = np.random.default_rng(seed)
    n = len(counts)
    out: dict[str, list] = {}
    done = 0
    while done < resamples:
        b = min(CHUNK, resamples - done)
        idx = rng.integers(0, n, size=(b, n))
        sums = counts[idx].sum(axis=1)
        for k, v in scalars(sums).items():
            if metrics is None or k in metrics:
                out.setdefault(k, []).append(v)
        done += b
    return {k: np.concatenate(v) for k, v in out.items()}


def confidence_intervals(targets, outputs, names, resamples: int, confidence: float, seed: int) -> dict:
    """Percentile bootstrap intervals of the scalar metrics, resampling sentences."""
    targets = as_sentences(targets)
    if resamples <= 0 or not len(targets):
        return {}
    pred = predicted_ids(outputs, [len(t) for t in targets], list(names))
    counts, _ = sentence_counts(targets, pred, list(names))
    return {k: percentile_interval(v, confidence) for k, v in _resampled(counts, resamples, seed).items()}


def paired_bootstrap(targets, outputs_a, outputs_b, names, metric: str, resamples: int, confidence: float,
                     seed: int) -> dict:
    """``A - B`` of ``metric`` on the same resampled sentences: difference, interval, two-sided p-value."""
    if metric not in SCALARS:
        raise ValueError(f"no bootstrap for metric {metric!r}; one of {', '.join(SCALARS)}")
    targets = as_sentences(targets)
    lengths, names = [len(t) for t in targets], list(names)
    ca, _ = sentence_counts(targets, predicted_ids(outputs_a, lengths, names), names)
    cb, _ = sentence_counts(targets, predicted_ids(outputs_b, lengths, names), names)
    observed = float(scalars(ca.sum(0))[metric] - scalars(cb.sum(0))[metric])
    a = _resampled(ca, resamples, seed, [metric])[metric]
    b = _resampled(cb, resamples, seed, [metric])[metric]
    diff = (a - b)[np.isfinite(a - b)]
    if not len(diff):
        return {"difference": observed, "ci": [float("nan")] * 2, "p_value": float("nan")}
    p = 2 * min((diff <= 0).mean(), (diff >= 0).mean())
    return {"difference": observed, "ci": percentile_interval(diff, confidence), "p_value": float(min(p, 1.0))}


def prior_outputs(train_targets, n: int, k: int) -> np.ndarray:
    """Log training frequency of each tag for every word (``[n, 1, k]``): predicts the majority tag (``O``)."""
    freq = np.bincount(np.concatenate(as_sentences(train_targets)), minlength=k)
    logp = np.log(np.maximum(freq, 1e-12) / max(freq.sum(), 1))
    return np.tile(logp.astype(np.float32), (n, 1, 1))


def word_rows(features: np.ndarray, targets) -> tuple[np.ndarray, np.ndarray]:
    """Per-word feature rows ``[M, D]`` and tag ids ``[M]`` of the words that have features and a tag."""
    x, y = [], []
    padded = isinstance(targets, np.ndarray) and targets.dtype != object and targets.ndim == 2
    for f, t in zip(features, targets if padded else as_sentences(targets)):  # (padded: -100 stays in place)
        m = min(len(t), len(f))
        ok = ~np.isnan(f[:m]).any(axis=1) & (t[:m] >= 0)
        x.append(f[:m][ok])
        y.append(t[:m][ok])
    d = features.shape[-1]
    return (np.concatenate(x) if x else np.zeros((0, d), np.float32)), (np.concatenate(y) if y else np.zeros(0, np.int64))
