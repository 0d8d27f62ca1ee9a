"""The Task interface: everything that differs between tasks, behind one small object.

A task says how targets are read from a table, checked, encoded and split; which head
the model gets and how its outputs become predictions; its loss; its metrics, default
monitored metric and bootstrap; its baselines; and which metrics the summary, the report
and the leaderboard show. Generic code (the run pipeline, the trainer, compare, the
report shell, the CLI) asks the task and never tests what kind of task it is.

Tasks are plug-ins: one file per task registers an instance in :data:`TASKS`::

    @register
    class TextMultiLabel(MultiLabelTask):
        name, modality = "text-multilabel", "text"

See ``docs/tasks.md`` for the steps to add one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Optional

import numpy as np
import pandas as pd
import torch

from ..registry import Registry
from ..data.encode import encode_split
from ..data.modalities import MODALITIES
from ..models import load_task_model
from ..evaluation.metrics import default_metric
from ..evaluation.metrics import list_metrics
from ..evaluation.metrics import compute_metrics
from ..evaluation.bootstrap import confidence_intervals
from ..evaluation.bootstrap import paired_bootstrap

TASKS: Registry["Task"] = Registry("task")


def register(cls: type["Task"]) -> type["Task"]:
    """Class decorator: register one instance of ``cls`` under ``cls.name`` (its docstring's first line describes it)."""
    TASKS.register(cls.name)(cls())
    return cls


class Task:
    """What is predicted, from what. Subclasses override the methods below; see the module docstring."""

    name: ClassVar[str] = ""
    modality: ClassVar[str] = "text"         # the input pipeline: "text", "image" or "audio" (see data/modalities.py)
    metric_kind: ClassVar[str] = ""          # the family of metrics in evaluation/metrics.py
    problem_type: ClassVar[str] = ""         # transformers' config.problem_type of the saved model
    bootstrap_unit: ClassVar[str] = "rows"   # what a bootstrap resamples
    probe_kind: ClassVar[str] = "softmax"    # the linear head a frozen-feature probe fits: softmax, sigmoid, ridge
    explains: ClassVar[bool] = False         # whether occlusion explanations (evaluate.explain) apply
    soft_targets: ClassVar[bool] = False     # whether loss() takes probability rows (mixup, cutmix)
    smooths_labels: ClassVar[bool] = False   # whether loss() takes label_smoothing= (train.label_smoothing)
    class_balance_choices: ClassVar[tuple[str, ...]] = ()   # train.class_balance values beyond none/auto
    summary_columns: ClassVar[tuple[str, ...]] = ()      # printed at the end of a run and by `evaluate`
    headline_metrics: ClassVar[tuple[str, ...]] = ()     # the report's "did fine-tuning help?" table
    leaderboard_columns: ClassVar[tuple[str, ...]] = ()  # the comparison leaderboard
    label_column_key: ClassVar[Optional[str]] = "label_column"  # None: the rows carry no label column (causal LM)
    baseline_name: ClassVar[str] = "pre-trained, linear probe"  # what metrics.json's `baseline` is, in words
    default_strategy: ClassVar[str] = "full"  # the strategy a recipe without a `strategy` section gets
    example_mean_loss: ClassVar[bool] = True  # loss() is a mean of per-example terms (DP-SGD needs it, docs/privacy.md)
    per_token_head: ClassVar[bool] = False  # the head reads one row per word (head_rows flattens; token tasks)
    learns_prompts: ClassVar[bool] = False  # prompt tuning / prefix tuning apply (a causal LM continuing text)
    scores_accuracy: ClassVar[bool] = False  # single-label accuracy over named classes (what continual sequences score)

    def __repr__(self) -> str:
        return f"<task {self.name}>"

    # -- data: rows, targets, splits ---------------------------------------------------------

    @property
    def has_classes(self) -> bool:
        """Whether targets are named classes/labels (``data.labels`` applies, ``label_names`` exist)."""
        return False

    def check_data(self, data) -> list[str]:
        """Problems with the recipe's ``data`` section that only this task knows about."""
        return []

    def clean_targets(self, df: pd.DataFrame, label_column: str, data, source: str, lines, report) -> pd.DataFrame:
        """``df`` with the label column cleaned (rows without a target dropped, values parsed).

        ``data`` is the recipe's data section (``data.clean`` says what to drop or fill);
        ``source`` and ``lines`` name rows in messages; ``report`` counts what was dropped.
        """
        raise NotImplementedError

    def label_names(self, train_labels: pd.Series, data, own_order) -> Optional[list[str]]:
        """The output names (class id -> name) fixed from the training labels, or None."""
        return None

    def encode_targets(self, labels: pd.Series, names: Optional[list[str]], declared: bool,
                       where: Callable[[Any], str]) -> np.ndarray:
        """Targets as an array the model trains on (int class ids, floats, or a 0/1 matrix)."""
        raise NotImplementedError

    def stratify_key(self, targets: np.ndarray) -> Optional[np.ndarray]:
        """One hashable value per row to stratify splits and folds by, or None for plain random splits."""
        return None

    def encode_split(self, split, model, data, role: str, seed: int, targets_transform=None):
        """``split`` as batches for ``model`` (``role``: train, validation or test); default: tokens or pixels."""
        return encode_split(split, model, data, targets_transform=targets_transform)

    def empty_targets(self, n: int) -> np.ndarray:
        """Placeholder targets for ``n`` unlabelled rows (prediction)."""
        return np.zeros(n, dtype=np.float32)

    def class_counts(self, targets: np.ndarray, label_names: Optional[list[str]]) -> Optional[dict[str, int]]:
        """Examples per class (per label for multi-label) of one split, or None when targets are not classes."""
        return None

    # -- model ---------------------------------------------------------------------------------

    def num_outputs(self, label_names: Optional[list[str]]) -> int:
        return 1 if label_names is None else len(label_names)

    def hf_auto_class(self) -> str:
        """The transformers class a Hugging Face model of this task is built (and exported) as.

        Default: the modality's per-example head (sequence or image classification); a task
        with per-token outputs (NER) or a language-model head (causal LM) overrides it.
        """
        return MODALITIES.get(self.modality).hf_example_head

    def build_model(self, section, label_names: Optional[list[str]], image_size: Optional[int] = None,
                    keep_head: bool = False, num_outputs: Optional[int] = None):
        """The pre-trained model of ``section`` with this task's head (``hf_auto_class()``, or timm with
        ``num_classes``)."""
        return load_task_model(section, self.modality, num_outputs or self.num_outputs(label_names), label_names,
                               regression=self.problem_type == "regression", image_size=image_size,
                               keep_head=keep_head, problem_type=self.problem_type,
                               auto_class=self.hf_auto_class())

    def target_scaler(self, train_targets: np.ndarray) -> Optional["TargetScaler"]:
        """A scaler the targets are trained in (regression), or None."""
        return None

    # -- training ------------------------------------------------------------------------------

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor,
             weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The training loss; ``weights``: per-output loss weights of ``train.class_balance: weights``
        (from :meth:`loss_weights`), or None."""
        raise NotImplementedError

    def loss_weights(self, train_targets: np.ndarray, label_names: Optional[list[str]]) -> np.ndarray:
        """The per-output weights :meth:`loss` takes for ``train.class_balance: weights``."""
        raise NotImplementedError(f"{self.name} has no class-weighted loss")

    # -- evaluation ----------------------------------------------------------------------------

    def default_metric(self) -> str:
        return default_metric(self.metric_kind)

    def metric_names(self) -> list[str]:
        """The metrics this task reports (what ``evaluate.metric`` may monitor)."""
        return list(list_metrics(self.metric_kind))

    def fit_decision(self, targets: np.ndarray, outputs: np.ndarray, metric: Optional[str] = None,
                     evaluate=None) -> Optional[dict]:
        """Decision settings tuned on validation outputs (e.g. per-label thresholds), or None.

        ``metric`` is the monitored metric, ``evaluate`` the recipe's evaluate section."""
        return None

    def describe_decision(self, decision: Optional[dict]) -> Optional[str]:
        """One line for the terminal about a tuned decision, or None."""
        return None

    def compute_metrics(self, targets: np.ndarray, outputs: np.ndarray, label_names: Optional[list[str]],
                        decision: Optional[dict] = None) -> dict:
        """Every metric of one split from raw model outputs (JSON-ready)."""
        return compute_metrics(self.metric_kind, targets, outputs, label_names)

    def test_statistics(self, targets, outputs, label_names, evaluate, seed: int,
                        decision: Optional[dict] = None) -> dict:
        """Bootstrap intervals (``test_ci``) and any curves of the test outputs."""
        return {"test_ci": confidence_intervals(self.metric_kind, targets, outputs, evaluate.bootstrap,
                                                evaluate.confidence, seed),
                "confidence": evaluate.confidence, "bootstrap": evaluate.bootstrap}

    def paired_bootstrap(self, targets, outputs_a, outputs_b, metric: str, resamples: int, confidence: float,
                         seed: int) -> dict:
        """Difference of ``metric`` between two models' outputs on the same examples, with a p-value."""
        return paired_bootstrap(self.metric_kind, targets, outputs_a, outputs_b, metric, resamples, confidence,
                                seed)

    # -- baselines and retention --------------------------------------------------------------

    def majority_outputs(self, train_targets, n: int, label_names) -> np.ndarray:
        """Per-example outputs, for ``n`` examples, of a predictor that ignores its input (class
        prior, label rates, or the mean), in the form the model's outputs take."""
        raise NotImplementedError

    def probe_outputs(self, train_x, train_targets, eval_sets: dict, label_names, seed: int) -> dict:
        """``{eval set: per-example outputs}`` of a linear head (``probe_kind``) fitted on frozen
        features; ``eval_sets`` is ``{name: (features, targets)}``."""
        raise NotImplementedError

    def majority_baseline(self, train_targets, eval_targets, label_names) -> dict:
        """Metrics of :meth:`majority_outputs` on ``eval_targets``."""
        outputs = self.majority_outputs(train_targets, len(eval_targets), label_names)
        return self.compute_metrics(np.asarray(eval_targets), outputs, label_names)

    def probe_baseline(self, train_x, train_targets, eval_sets: dict, label_names, seed: int) -> dict:
        """``{eval set: metrics}`` of :meth:`probe_outputs`."""
        outputs = self.probe_outputs(train_x, train_targets, eval_sets, label_names, seed)
        return {name: self.compute_metrics(np.asarray(eval_sets[name][1]), out, label_names)
                for name, out in outputs.items()}

    def own_baselines(self, p, eval_split: str, precision: str, device) -> Optional[tuple[dict, dict, dict]]:
        """``(majority, baseline, arrays)`` when this task measures its baselines itself (a causal LM's is
        the pre-trained model), or None for the majority predictor and the linear probe."""
        return None

    def top_losses(self, targets, outputs, label_names, n: int, decision=None) -> Optional[dict]:
        """The highest-loss test examples and most confused class pairs (single-label classification),
        or None where the task has no such view."""
        return None

    def extra_evaluation(self, p, run_dir, device, console) -> dict:
        """Task-specific analyses of the final model, added to ``metrics.json`` (e.g. generated samples)."""
        return {}

    def input_free_loss(self, model, train_targets) -> float:
        """The training loss of a predictor that ignores its input (what ``loss-not-falling`` compares
        with): here 1.0, the MSE of the mean on standardised targets; classification tasks give the
        entropy of the class frequencies, a causal LM the log of its vocabulary size."""
        return 1.0

    def head_rows(self, x, y) -> tuple:
        """The head solver's rows ``(features, targets)`` of one split's head inputs ``x`` and targets ``y``;
        a per-token task flattens sentences to one row per word (see ``per_token_head``)."""
        return x, y

    def test_examples(self, inputs, targets, outputs, label_names) -> Optional[tuple[str, list[dict]]]:
        """``(file name, entries)``: a task's own sample of test predictions written beside the run
        (token classification's entity examples for the report), or None."""
        return None

    def retention_targets(self, targets: np.ndarray) -> Optional[np.ndarray]:
        """Class ids a retention probe may stratify its sample by (None: random sample)."""
        return self.stratify_key(targets)

    # -- prediction ----------------------------------------------------------------------------

    def predict_rows(self, outputs: np.ndarray, label_names: Optional[list[str]],
                     decision: Optional[dict] = None) -> list[dict]:
        """What ``predict`` returns for each row of raw model outputs."""
        raise NotImplementedError

    def predict_for_inputs(self, outputs: np.ndarray, label_names: Optional[list[str]], decision: Optional[dict],
                           inputs) -> list[dict]:
        """:meth:`predict_rows` for raw inputs; a task whose answer points into its input (entity spans with
        character offsets) overrides it."""
        return self.predict_rows(outputs, label_names, decision)

    def raw_predictions(self, model, inputs: list, data, batch_size: int) -> Optional[list[dict]]:
        """What ``predict`` returns for raw inputs when the task does not go through model outputs
        (a causal LM generates), or None for :meth:`predict_rows` of the outputs."""
        return None

    def load_saved(self, folder, meta: dict):
        """The model saved in ``folder`` when this task loads it itself, or None (see models/export.py)."""
        return None

    def format_prediction(self, row: dict) -> tuple[str, str]:
        """(prediction, probabilities) of one :meth:`predict_rows` row as text for a table."""
        probs = row.get("probabilities") or {}
        return str(row), ", ".join(f"{k} {v:.3f}" for k, v in sorted(probs.items(), key=lambda kv: -kv[1]))

    def card_pipeline(self, folder, inputs, data: dict, load_args: str) -> Optional[tuple[list[str], list[str]]]:
        """The model card's first code block, served by ``transformers.pipeline``: ``(imports, lines)`` that,
        after ``MODEL = <the folder>``, build the pipeline, example inputs and ``predictions`` equal to what
        ``tuneforge predict`` gives (the saved decision files in ``folder`` applied). ``inputs`` is the saved
        model's modality (data/modalities.py), ``data`` the recipe's data section, ``load_args`` extra
        arguments of the pipeline's loading (``, trust_remote_code=True``). None: no pipeline reproduces this
        task's predictions, and the card starts with the transformers class instead."""
        return None

    def card_logits_decision(self, folder) -> Optional[list[str]]:
        """Card lines turning a batch of ``logits`` (a tensor) and the class names ``labels`` into
        ``predictions`` as ``tuneforge predict`` decides (timm models' cards, which have no pipeline);
        None: the most probable label."""
        return None

    def model_files(self, folder, decision: Optional[dict]) -> None:
        """Write this task's files beside a saved model (e.g. ``thresholds.json``)."""

    def read_decision(self, folder) -> Optional[dict]:
        """The decision settings saved by :meth:`model_files`, or None."""
        return None

    def applied_decision(self, decision: Optional[dict], label_names: Optional[list[str]]) -> Optional[dict]:
        """How predictions of a saved model are decided, given what :meth:`read_decision` read (None:
        nothing saved): a JSON-ready record with ``rule``, the value(s), ``source`` (where they came
        from) and ``text`` (one line for the terminal), which ``tuneforge evaluate`` stores with its
        metrics; None for a task whose outputs need no decision rule (regression)."""
        return None

    def describe(self) -> dict:
        """The columns each view shows, stored in ``metrics.json`` so reports need no task."""
        return {"summary": list(self.summary_columns), "headline": list(self.headline_metrics),
                "leaderboard": list(self.leaderboard_columns)}


@dataclass(frozen=True)
class TargetScaler:
    """Regression targets are trained standardised and reported in original units."""

    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def fit(cls, targets: np.ndarray) -> "TargetScaler":
        std = float(np.std(targets))
        return cls(float(np.mean(targets)), std if std > 1e-12 else 1.0)

    def transform(self, y: np.ndarray) -> np.ndarray:
        return ((y - self.mean) / self.std).astype(np.float32)

    def inverse(self, y: np.ndarray) -> np.ndarray:
        return y * self.std + self.mean
