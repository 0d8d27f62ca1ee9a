"""Token classification (NER): one BIO tag per word, entities scored as spans.

Rows are sentences: a list of words (``data.text_column``, default ``tokens``) and a list of
tags (``data.label_column``, default ``tags``), from CoNLL files (``token TAB tag``), JSON Lines
or Parquet. Tags must be BIO (``O``, ``B-TYPE``, ``I-TYPE``); names come from ``data.labels`` or
the training tags (``O`` first). The model is ``AutoModelForTokenClassification``; word tags are
aligned to sub-tokens as ``data.subword_labels`` says (see :mod:`tuneforge.data.words`), the loss
is cross-entropy over the labelled sub-tokens, and evaluation reads one prediction per word
(its first sub-token). Metrics, bootstrap (over sentences) and baselines live in
:mod:`tuneforge.evaluation.token_metrics`. ``predict`` on raw text (split on white space)
returns entity spans with character offsets.

The warm-head solver works on words: the head's inputs are gathered at each word's first
sub-token and :meth:`TokenClassificationTask.head_rows` flattens them to one row per word, so
``linear-probe`` solves the same softmax problem as the frozen-feature baseline.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError
from ..evaluation.metrics import class_prior_entropy
from ..registry import did_you_mean
from .base import Task
from ..data.words import parse_words
from ..evaluation import token_metrics
from ..data.cleaning import drop_rows
from ..data.columns import default_columns
from ..data.tables import row_label
from ..data.words import check_words
from ..models import load_task_model
from ..head.solver import solve_head

EXAMPLES_FILE = "entity_examples.json"   # test sentences with gold and predicted entities (report/entities.py)


def parse_tags(value) -> Optional[list[str]]:
    """The tags of one cell: a list, a JSON list written as text, or text split on white space (None: missing)."""
    tags = parse_words(value)
    return None if tags is None else [str(t).strip() for t in tags]


def _rows(targets, mask: np.ndarray):
    """The targets of the sentences where ``mask`` is true (a list of arrays or a padded array)."""
    if isinstance(targets, np.ndarray):
        return targets[mask]
    return [t for t, keep in zip(targets, mask) if keep]


class TokenClassificationTask(Task):
    metric_kind = "token-classification"
    problem_type = "single_label_classification"
    bootstrap_unit = "sentences"
    example_mean_loss = False  # averaged over the tokens of the whole batch
    per_token_head = True
    probe_kind = "softmax"
    smooths_labels = True
    summary_columns = ("entity_f1", "entity_f1_strict", "token_accuracy")
    headline_metrics = ("entity_f1", "entity_precision", "entity_recall", "entity_f1_strict", "token_accuracy")
    leaderboard_columns = ("entity_f1", "entity_f1_strict", "token_accuracy")

    def __init__(self):
        self.metrics = token_metrics

    @property
    def has_classes(self) -> bool:
        return True

    # -- data ----------------------------------------------------------------------------------

    def check_data(self, data) -> list[str]:
        problems = []
        if data.labels is not None:
            if len(set(map(str, data.labels))) != len(data.labels):
                problems.append("data.labels: a tag is listed twice")
            try:
                self.metrics.check_tags([str(x) for x in data.labels], "data.labels")
            except DataError as e:
                problems.append(str(e))
        return problems

    def clean_targets(self, df, label_column, data, source, lines, report):

        _, input_column, _ = default_columns(data, self.modality)
        tags = df[label_column].map(parse_tags)
        df = drop_rows(df, tags.isna(), "missing label", label_column, data.clean, source, lines, report).copy()
        tags = tags[tags.notna()]
        words = df[input_column].map(parse_words)
        for index in df.index:
            check_words(words[index] or [], tags[index], row_label(int(index), source, lines))
        df[input_column] = words.astype(object)
        df[label_column] = tags.astype(object)
        empty = df[input_column].map(len) == 0
        if empty.any():
            report.dropped["empty sentence"] = report.dropped.get("empty sentence", 0) + int(empty.sum())
            df = df[~empty]
        return df

    def label_names(self, train_labels, data, own_order) -> list[str]:
        if data.labels:
            return [str(x) for x in data.labels]
        seen = sorted({t for row in train_labels for t in row if t != "O"}, key=lambda t: (t[2:], t[:2]))
        names = ["O"] + seen
        self.metrics.check_tags(names, "data.train")
        return names

    def encode_targets(self, labels, names, declared, where) -> np.ndarray:
        index = {n: i for i, n in enumerate(names)}
        out = np.empty(len(labels), dtype=object)
        for r, (i, row) in enumerate(labels.items()):
            ids = np.empty(len(row), dtype=np.int64)
            for k, tag in enumerate(row):
                if tag not in index:
                    seen = "the declared tags (data.labels)" if declared else "the tags seen in train"
                    raise DataError(f"{where(i)}: tag {tag!r} (word {k + 1}) is not one of {seen}: "
                                    f"{', '.join(names[:25])}{did_you_mean(tag, names)}")
                ids[k] = index[tag]
            out[r] = ids
        return out

    def empty_targets(self, n: int) -> np.ndarray:
        return np.full(n, None, dtype=object)

    def hf_auto_class(self) -> str:
        return "AutoModelForTokenClassification"

    def build_model(self, section, label_names, image_size=None, keep_head=False, num_outputs=None):
        """A text model with a token-classification head (word sequences are read by text models)."""
        return load_task_model(section, "text", num_outputs or len(label_names), label_names, regression=False,
                               image_size=None, keep_head=keep_head, problem_type=self.problem_type,
                               auto_class=self.hf_auto_class())

    # -- training and evaluation ---------------------------------------------------------------

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
        """Cross-entropy over the labelled sub-tokens (-100: ignored), with ``train.label_smoothing``."""
        logits = outputs.float().reshape(-1, outputs.shape[-1])
        targets = targets.reshape(-1)
        if not bool((targets != -100).any()):   # no labelled sub-token in this batch: nothing to learn
            return logits.sum() * 0.0
        return F.cross_entropy(logits, targets, ignore_index=-100, label_smoothing=label_smoothing)

    def default_metric(self) -> str:
        return "entity_f1"

    def input_free_loss(self, model, train_targets) -> float:
        """Cross-entropy over words of predicting the tag frequencies: their entropy."""
        return class_prior_entropy(np.concatenate([np.asarray(t) for t in train_targets]))

    def compute_metrics(self, targets, outputs, label_names, decision=None) -> dict:
        self._names = list(label_names)
        return self.metrics.token_metrics(targets, outputs, label_names)

    def test_statistics(self, targets, outputs, label_names, evaluate, seed, decision=None) -> dict:
        return {"test_ci": self.metrics.confidence_intervals(targets, outputs, label_names, evaluate.bootstrap,
                                                             evaluate.confidence, seed),
                "confidence": evaluate.confidence, "bootstrap": evaluate.bootstrap, "bootstrap_unit": "sentences"}

    def paired_bootstrap(self, targets, outputs_a, outputs_b, metric, resamples, confidence, seed) -> dict:
        names = self._names_for(outputs_a)
        return self.metrics.paired_bootstrap(targets, outputs_a, outputs_b, names, metric, resamples, confidence,
                                             seed)

    _names: Optional[list[str]] = None

    def _names_for(self, outputs) -> list[str]:
        """The tag names for a paired bootstrap (whose interface carries none): those of the last split this
        task scored, which in ``compare`` and the run diagnostics are the same run's tags."""
        k = np.asarray(outputs).shape[-1]
        if self._names is None or len(self._names) != k:
            raise DataError(f"token classification: the {k} tag names of these outputs are unknown; score the "
                            "run (compute_metrics) before comparing its outputs")
        return self._names

    # -- baselines ------------------------------------------------------------------------------

    def majority_outputs(self, train_targets, n, label_names):
        return self.metrics.prior_outputs(train_targets, n, len(label_names))

    def probe_outputs(self, train_x, train_targets, eval_sets, label_names, seed):

        # C is chosen on a fifth of the training sentences held out (not by k-fold cross-validation over
        # words: tens of thousands of rows make that 3x slower, and words of one sentence are not independent)
        train_x = np.asarray(train_x)
        held = np.random.default_rng(seed).random(len(train_x)) < 0.2
        if held.sum() < 2 or (~held).sum() < 2:
            held[:] = False
        x, y = self.metrics.word_rows(train_x[~held], _rows(train_targets, ~held))
        validation = self.metrics.word_rows(train_x[held], _rows(train_targets, held)) if held.any() else None
        head = solve_head("softmax", x, y, validation=validation, num_outputs=len(label_names), seed=seed)
        w, b = head.weight.float().numpy(), head.bias.float().numpy()
        return {name: (np.asarray(f, dtype=np.float32) @ w.T + b) for name, (f, _) in eval_sets.items()}

    def head_rows(self, x, y):
        """Head-solver rows: per-word features ``[N, W, D]`` and tags -> ``([M, D], [M])`` of the tagged words."""
        return self.metrics.word_rows(np.asarray(x), y)

    def retention_targets(self, targets):
        return None

    # -- prediction ------------------------------------------------------------------------------

    def predict_rows(self, outputs, label_names, decision=None) -> list[dict]:
        return self.predict_for_inputs(outputs, label_names, decision, None)

    def predict_for_inputs(self, outputs, label_names, decision, inputs) -> list[dict]:
        """Per sentence: each word's tag and the entities; with raw text, spans carry character offsets."""
        from scipy.special import softmax

        out = np.asarray(outputs, dtype=np.float32)
        names = list(label_names)
        rows = []
        for i in range(len(out)):
            if inputs is not None and getattr(inputs, "offsets", None) is not None:
                words, offsets, text = inputs[i], inputs.offsets[i], inputs.texts[i]
            elif inputs is not None:
                words, offsets, text = inputs[i], None, None
            else:
                n = int((~np.isnan(out[i]).any(axis=1)).sum())
                words, offsets, text = [None] * n, None, None
            ids = self.metrics.predicted_ids(out[i:i + 1], [len(words)], names)[0]
            probs = softmax(np.nan_to_num(out[i][:len(words)], nan=0.0), axis=-1)
            tags = [names[k] for k in ids]
            entities = []
            for kind, first, last in sorted(self.metrics.entities(tags), key=lambda e: e[1]):
                score = float(np.mean([probs[w, ids[w]] for w in range(first, last + 1)])) if len(probs) else 0.0
                entity = {"entity": kind, "first_word": first, "last_word": last, "score": score}
                if offsets is not None:
                    entity.update(start=offsets[first][0], end=offsets[last][1],
                                  text=text[offsets[first][0]:offsets[last][1]])
                elif words[0] is not None:
                    entity["text"] = " ".join(words[first:last + 1])
                entities.append(entity)
            rows.append({"entities": entities, "tags": tags})
        return rows

    def test_examples(self, inputs, targets, outputs, label_names, k: int = 8) -> tuple[str, list[dict]]:
        """``(file name, entries)``: up to ``k`` test sentences with entities, wrong ones first, each with its
        words and its gold and predicted entities (for the report)."""
        names = list(label_names)
        targets = self.metrics.as_sentences(targets)
        predicted = self.metrics.predicted_ids(outputs, [len(t) for t in targets], names)
        wrong, right = [], []
        for i, (gold, pred) in enumerate(zip(targets, predicted)):
            g = self._spans([names[x] for x in gold])
            p = self._spans([names[x] for x in pred])
            if g or p:
                (wrong if g != p else right).append({"index": i, "words": list(inputs[i]), "gold": g,
                                                     "predicted": p})
        return EXAMPLES_FILE, (wrong[:k // 2] + right[:k - min(len(wrong), k // 2)])[:k]

    def _spans(self, tags: list[str]) -> list[dict]:
        return [{"type": t, "first": a, "last": b} for t, a, b in sorted(self.metrics.entities(tags),
                                                                        key=lambda e: e[1])]

    def card_pipeline(self, folder, inputs, data, load_args):
        """The pipeline's per-piece tags read back per word as training labelled them: a word's tag is its first
        piece's (aggregation strategies decide words from the pieces' text instead, and split "sea-port" or
        "Paris." where the tokenizer cuts punctuation off), then entities as ``tuneforge predict`` reads BIO."""
        return [], [
            f'tagger = pipeline("token-classification", model=MODEL, ignore_labels=[]{load_args})',
            f"tagger.tokenizer.model_max_length = {int(data.get('max_length') or 512)}   # sentences cut as in "
            "training (words past it: O)",
            'sentences = [["Ada", "Lovelace", "lives", "in", "Paris."], ["the", "king", "went", "to", "sea-port"]]',
            "", "",
            "def word_tags(words, pieces):",
            '    """Each word\'s tag: its first piece\'s, as the model was trained; "O" for a word cut off."""',
            "    first, at = {}, 0",
            "    for i, word in enumerate(words):",
            "        first[at], at = i, at + len(word) + 1   # the pipeline joins the words with one space",
            '    tags = ["O"] * len(words)',
            "    for piece in pieces:",
            '        if piece["start"] in first:',
            '            tags[first.pop(piece["start"])] = piece["entity"]',
            "    return tags", "", "",
            "def entities(words, tags):",
            '    """(type, first word, last word, text): a B- tag, or a tag of another type than the word before,'
            ' starts one."""',
            "    found = []",
            "    for i, tag in enumerate(tags):",
            '        if tag != "O" and (tag.startswith("B-") or i == 0 or tags[i - 1][2:] != tag[2:]):',
            "            found.append([tag[2:], i, i])",
            '        elif tag != "O":',
            "            found[-1][2] = i",
            '    return [(kind, a, b, " ".join(words[a:b + 1])) for kind, a, b in found]', "", "",
            "pieces = tagger(sentences, is_split_into_words=True)",
            "predictions = [entities(words, word_tags(words, p)) for words, p in zip(sentences, pieces)]"]

    def format_prediction(self, row: dict) -> tuple[str, str]:
        spans = [f"{e.get('text', '?')} [{e['entity']}"
                 + (f" {e['start']}:{e['end']}" if "start" in e else "") + "]" for e in row["entities"]]
        return "; ".join(spans) or "(no entity)", ", ".join(f"{e['score']:.3f}" for e in row["entities"])
