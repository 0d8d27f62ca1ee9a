"""The recipe: one document that fully describes a fine-tuning run.

Every section is a pydantic model that forbids unknown keys, so a typo is an
error with a "did you mean" instead of a silently ignored option. The dotted
paths of these fields (``optimizer.lr``, ``train.epochs``...) are the keys of
command-line overrides and of search spaces.
"""
from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .duration import parse_duration
from .hooks import hook


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, arbitrary_types_allowed=True)


class ModelSection(Section):
    name: str = Field(..., description="alias (`tuneforge list models`), local folder, hub id, or `timm:NAME`")
    weights: Optional[str] = Field(None, description="local weights file (timm models, or to override an alias)")
    weights_match: Literal["names", "order"] = Field(
        "names", description="how model.weights' tensors are matched to the architecture's: by name, or by position "
        "for a checkpoint that names them in another scheme (every shape checked; as the efficientnet aliases load)")
    dropout: Optional[float] = Field(None, ge=0.0, lt=1.0, description="override the model's dropout rates")
    trust_remote_code: bool = Field(False, description="allow model code from a hub repository to run")
    pooling: Literal["auto", "cls", "mean", "pooler", "last"] = Field(
        "auto", description="the features the head reads: auto follows the checkpoint (sentence-transformers "
        "config -> its pooling, decoders -> last, a pre-trained pooler -> pooler, else cls); cls/mean/pooler/last "
        "need a text model whose head is one linear layer (pooler: pooler weights in the checkpoint; cls: not a "
        "decoder; last: decoders only); image models and multi-layer heads accept only auto or their own pooling")


class CleanSection(Section):
    drop_missing: bool = Field(True, description="drop rows whose input or label is missing")
    drop_duplicates: bool = Field(True, description="drop rows whose input is an exact duplicate of an earlier row")
    missing_target: Literal["drop", "mean", "median"] = Field(
        "drop", description="regression: drop rows with a missing target, or fill it")


DataSource = Union[str, Any]  # a path or a registered data set name; Python callers may pass tables


class DataSection(Section):
    train: DataSource = Field(..., description="path (CSV, JSONL, Parquet, image or audio folder) or a packaged data set name")
    validation: Union[float, DataSource, None] = Field(0.1, description="path, or a fraction of train held out")
    test: Union[float, DataSource, None] = Field(0.2, description="path, or a fraction of train held out")
    text_column: Union[str, list[str], None] = Field(
        None, description="column with the text (text tasks; default 'text'), or a list of two columns "
        "[first, second] whose texts go to the tokenizer as a pair (NLI, paraphrase, similarity)")
    image_column: Optional[str] = Field(None, description="column with image paths (image tasks; default 'image')")
    audio_column: Optional[str] = Field(None, description="column with audio file paths (audio tasks; default 'audio')")
    label_column: Optional[str] = Field(None, description="column with the label or target (default 'label')")
    labels: Optional[list[str]] = Field(None, description="declared class names; rows with other labels are an error")
    label_delimiter: str = Field("|", min_length=1, description="multi-label tasks: separator of the labels in a "
                                 "text cell (a list cell in JSONL/Parquet needs none)")
    max_train_samples: Optional[int] = Field(None, ge=1, description="stratified subset of train")
    max_eval_samples: Optional[int] = Field(None, ge=1, description="stratified subset of validation and test")
    max_length: int = Field(128, ge=2, description="maximum tokens per text")
    subword_labels: Literal["first", "all"] = Field("first", description="token classification: label only a word's "
                                                    "first sub-token (the rest ignored) or every sub-token")
    prompt_column: Optional[str] = Field(None, description="causal-lm: column with the instruction (prompt); "
                                         "with response_column, examples are prompt/response pairs")
    response_column: Optional[str] = Field(None, description="causal-lm: column with the answer the model learns")
    messages_column: Optional[str] = Field(None, description="causal-lm: column with a chat, a list of "
                                           "{role, content} messages (loss on the assistant turns)")
    train_on_prompt: bool = Field(False, description="causal-lm: also train on prompt tokens (default: loss on "
                                  "the response tokens only)")
    packing: bool = Field(False, description="causal-lm: pack several training examples into each row of "
                          "max_length tokens; attention never crosses examples (refused where it would)")
    image_size: Optional[int] = Field(None, ge=8, description="image side in pixels (default: the model's)")
    max_seconds: Optional[float] = Field(None, gt=0, description="audio: cut longer clips to this many seconds "
                                         "(reported, never silent); unset: keep whole clips")
    sampling_rate: Optional[int] = Field(None, ge=1000, description="audio: decode clips at this rate in Hz "
                                         "(default 16000; resampled again if the model's feature extractor wants another)")
    root: Optional[str] = Field(None, description="image and audio paths in tables must stay inside this folder")
    clean: CleanSection = Field(default_factory=CleanSection)
    augment: list[dict[str, Any]] = Field(
        default_factory=list, description="training-time image augmentation: a preset (light, medium, heavy) or a "
        "list of names and {name: ..., option: value} mappings (`tuneforge list augmentations`, docs/augmentation.md)")

    augment_views: Optional[int] = Field(
        None, ge=1, description="fix K augmented views per image (epoch e trains on view e mod K), so that the "
        "frozen-prefix cache can record each view once and stay on; unset: a fresh augmentation every epoch")

    @field_validator("augment", mode="before")
    @classmethod
    def _augment(cls, v):
        """Presets expanded and every option filled in (the ``data.augment`` hook: data/augment/spec.py), so the
        saved recipe is explicit."""
        return hook("data.augment")(v)

    @field_validator("text_column")
    @classmethod
    def _text_pair(cls, v):
        if isinstance(v, list) and (len(v) != 2 or len(set(v)) != 2 or not all(str(c).strip() for c in v)):
            raise ValueError(f"a text pair is a list of two different column names, e.g. [premise, hypothesis]; "
                             f"got {v!r}")
        return v

    @field_validator("validation", "test")
    @classmethod
    def _fraction(cls, v):
        if isinstance(v, float) and not 0.0 < v < 1.0:
            raise ValueError(f"a fraction must lie strictly between 0 and 1, got {v}")
        return v


class StrategySection(BaseModel):
    """`name` plus that strategy's own options (checked by the strategy itself)."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)
    name: str = Field("full", description="fine-tuning strategy (`tuneforge list strategies`)")


class RegulariserSection(BaseModel):
    """`name` (l2-sp, distillation, ewc...) plus its options, e.g. `weight`."""

    model_config = ConfigDict(extra="allow")
    name: str


class OptimizerSection(Section):
    name: str = Field("adamw", description="adamw, sgd or rmsprop")
    lr: Union[float, Literal["find"], None] = Field(
        None, description="peak learning rate (the head's, for layer-wise strategies); unset: the strategy's "
                          "default for this model family (shown by `tuneforge validate`); 'find': run the "
                          "learning-rate range test first and use its suggestion")
    lr_factor: float = Field(1.0, gt=0.0, description="multiplier of the strategy's default learning rates when "
                             "optimizer.lr is unset (search spaces use it: 2 means twice the default)")
    weight_decay: float = Field(0.01, ge=0.0, description="decoupled weight decay (never on biases and norms)")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="sgd / rmsprop momentum")
    betas: tuple[float, float] = Field((0.9, 0.999), description="adamw betas")
    head_lr: Optional[float] = Field(None, gt=0.0, description="learning rate of the new head (unset: the "
                                                                "strategy's default; lr for a solved head)")

    @field_validator("lr", mode="before")
    @classmethod
    def _lr(cls, v):
        """A number > 0, or "find" (docs/lr-find.md); one message for every other value."""
        if v is None or (isinstance(v, str) and v.strip().lower() == "find"):
            return None if v is None else "find"
        try:
            value = float(v) if not isinstance(v, bool) else None
        except (TypeError, ValueError):
            value = None
        if value is None or value != value or abs(value) == float("inf"):
            raise ValueError("input should be a number greater than 0, or 'find' to run the learning-rate "
                             "range test first")
        if value <= 0:
            raise ValueError("input should be greater than 0 (or 'find' to run the learning-rate range test)")
        return value


class SchedulerSection(Section):
    name: str = Field("linear", description="constant, linear, cosine or one-cycle")
    warmup: float = Field(0.06, ge=0.0, description="warmup: a fraction of all steps if < 1, else a step count")


class EarlyStoppingSection(Section):
    patience: int = Field(3, ge=1, description="evaluations without improvement before stopping")
    min_delta: float = Field(0.0, ge=0.0)


class TrainSection(Section):
    epochs: int = Field(3, ge=1)
    max_steps: Optional[int] = Field(None, ge=1, description="stop after this many optimizer steps")
    batch_size: int = Field(32, ge=1)
    grad_accum: int = Field(1, ge=1, description="gradient accumulation steps")
    grad_clip: Optional[float] = Field(1.0, gt=0.0, description="max gradient norm (null: no clipping)")
    seed: int = 42
    precision: Literal["fp32", "bf16", "fp16", "auto"] = Field(
        "auto", description="auto: bf16 autocast where the hardware has native bf16 matrix units, else fp32; fp16: "
                            "float16 autocast with loss scaling, for GPUs without bf16 (docs/speed.md)")
    save_every_steps: Optional[int] = Field(None, ge=1, description="checkpoint every N steps (and at each epoch end)")
    keep_checkpoints: int = Field(1, ge=1, description="how many recent checkpoints to keep")
    early_stopping: Optional[EarlyStoppingSection] = None
    group_by_length: bool = Field(True, description="text: batch texts of similar length to cut padding")
    nonfinite: Literal["stop", "skip"] = Field("stop", description="on a non-finite loss: stop, or skip the batch")
    restore_best: bool = Field(True, description="end with the weights of the best validation evaluation (a tie "
                                                 "goes to the later, trained one; docs/evaluation.md)")
    class_balance: Literal["none", "weights", "sampling", "auto"] = Field(
        "auto", description="class imbalance (classification): weights = class-weighted loss (inverse frequency), "
        "sampling = every class drawn equally often each epoch, auto = weights when the largest class has more "
        "than 3x the examples of the smallest, else none (docs/data.md)")
    eval_every_steps: Optional[int] = Field(None, ge=1, description="also evaluate every N steps (default: each epoch)")
    cache_frozen: Literal["auto", "on", "off"] = Field(
        "auto", description="compute frozen bottom blocks once and train the rest from their outputs "
                            "(auto: when exact; on: error if it cannot be; see docs/speed.md)")
    cache_memory_mb: int = Field(2048, ge=0, description="frozen-prefix cache above this size goes to a file")
    gradient_checkpointing: bool = Field(
        False, description="recompute each layer's activations in the backward pass instead of keeping them: far "
                           "less memory, about one more forward pass (docs/speed.md)")
    compile: bool = Field(False, description="torch.compile the network's forward (docs/speed.md)")
    compile_backend: Literal["inductor", "aot_eager", "eager"] = Field(
        "inductor", description="train.compile: inductor generates fused kernels (needs a C compiler on CPU); "
                                "aot_eager and eager only trace")
    workers: int = Field(0, ge=0, description="worker processes that build training batches ahead (image resizing and "
                         "augmentation); the same batches as 0 (docs/speed.md)")
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="classification and token classification: "
                                   "cross-entropy against (1 - eps) * one-hot + eps / classes (0: off)")


class RetentionSection(Section):
    """How much of what the pre-trained model knew survives fine-tuning (see docs/evaluation.md)."""

    data: Optional[str] = Field(None, description="labelled source-task data (CSV, JSONL, Parquet, image folder)")
    text_column: Optional[str] = Field(None, description="input column of the source data (default 'text')")
    image_column: Optional[str] = Field(None, description="image column of the source data (default 'image')")
    label_column: Optional[str] = Field(None, description="label column of the source data (default 'label')")
    probe_size: int = Field(256, ge=4, description="examples in the probe set (test split, or source data)")


class EvaluateSection(Section):
    baseline: bool = Field(True, description="also fit a linear probe on the frozen pre-trained features")
    metric: Optional[str] = Field(None, description="validation metric to monitor (default: macro_f1 or r2)")
    batch_size: int = Field(128, ge=1)
    bootstrap: int = Field(1000, ge=0, description="bootstrap resamples for test confidence intervals (0: none)")
    confidence: float = Field(0.95, gt=0.0, lt=1.0, description="confidence level of the intervals")
    folds: Optional[int] = Field(None, ge=2, description="k-fold cross-validation instead of one hold-out test")
    threshold: Literal["auto", "tune", "argmax"] = Field(
        "auto", description="binary classification: tune = the decision threshold on P(second class) is tuned on "
        "validation for the monitored metric; argmax = the more probable class; auto = tune when the validation "
        "classes are imbalanced (largest/smallest > 3), else argmax (docs/data.md)")
    random_init: bool = Field(False, description="also train the same architecture from random weights (slow)")
    retention: Optional[RetentionSection] = Field(None, description="measure what was forgotten")
    explain: int = Field(3, ge=0, description="test examples explained by occlusion (and attribution) in the report")
    attribution: bool = Field(True, description="explained examples also get gradient attributions through Captum: "
                                                "integrated gradients over tokens, Grad-CAM for CNNs")
    top_losses: int = Field(8, ge=0, description="classification: the test examples with the highest loss, shown "
                                                 "in the report with the most confused class pairs")
    report: bool = Field(True, description="write report.html into the run folder")


class GenerateSection(Section):
    """How text is generated (causal-lm: samples in the report, `tuneforge predict`)."""

    max_new_tokens: int = Field(48, ge=1, description="tokens generated after the prompt")
    do_sample: bool = Field(False, description="sample instead of greedy decoding")
    temperature: float = Field(1.0, gt=0.0, description="sampling temperature (do_sample only)")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="nucleus sampling mass (do_sample only)")
    samples: int = Field(5, ge=0, description="held-out prompts generated before and after fine-tuning")


class PrivacySection(Section):
    """Differentially private training: DP-SGD through Opacus (docs/privacy.md).

    Give ``epsilon`` (the noise is chosen to spend exactly that much by the planned last step) or
    ``noise_multiplier`` (the epsilon spent is then reported); each example's gradient is clipped to
    ``max_grad_norm`` before the noise is added.
    """

    epsilon: Optional[float] = Field(None, gt=0.0, description="privacy budget to spend by the end of training; "
                                     "the noise multiplier is chosen to reach it (give this or noise_multiplier)")
    noise_multiplier: Optional[float] = Field(None, gt=0.0, description="instead of epsilon: Gaussian noise std as "
                                              "a multiple of max_grad_norm; the epsilon spent is reported")
    delta: Optional[float] = Field(None, gt=0.0, lt=1.0, description="target delta (default: 1/(10 N) for N training "
                                   "examples, well below 1/N)")
    max_grad_norm: float = Field(1.0, gt=0.0, description="each example's gradient is clipped to this L2 norm")
    accountant: Literal["prv", "rdp", "gdp"] = Field("prv", description="Opacus's privacy accountant (prv: its "
                                                     "default and the tightest; rdp: Renyi DP; gdp: Gaussian DP)")
    poisson_sampling: bool = Field(True, description="draw each batch by including every example independently "
                                   "with probability batch_size/N, as the accountant assumes; false: shuffled "
                                   "fixed-size batches (faster to reason about, but the guarantee is then approximate)")

    @model_validator(mode="after")
    def _one_noise_source(self):
        if (self.epsilon is None) == (self.noise_multiplier is None):
            raise ValueError("give exactly one of privacy.epsilon (a budget) or privacy.noise_multiplier")
        return self


class OutputSection(Section):
    dir: str = Field("runs", description="folder that holds run folders")
    name: Optional[str] = Field(None, description="run folder name prefix (default: the recipe's name)")
    save_model: bool = True
    trackers: list[str] = Field(default_factory=lambda: ["tensorboard"], description="experiment trackers: "
                                "tensorboard, mlflow (`[]`: none); see docs/recipes.md")
    tracking_uri: Optional[str] = Field(None, description="MLflow tracking URI (default: sqlite:///<output.dir>/"
                                        "mlflow.db, artifacts in <output.dir>/mlartifacts)")
    experiment: Optional[str] = Field(None, description="MLflow experiment name (default: the recipe's name)")


class SearchSection(BaseModel):
    """``tuneforge search``: the space and the study's settings (docs/search.md).

    Keys with a dot are search dimensions, in the command line's dotted keys
    (``optimizer.lr_factor: {log_uniform: [0.3, 3]}``, ``strategy.name: {choice: [...]}``,
    ``strategy.r: {choice: [4, 8, 16], when: {strategy.name: lora}}``); they are checked by
    :func:`tuneforge.search.space.space_problems`. The other keys are the study's settings.
    """

    model_config = ConfigDict(extra="allow", validate_assignment=True)
    space: str = Field("auto", description="shipped space the dimensions here add to or replace "
                       "(`tuneforge list search-spaces`); auto: 'default' when no dimension is given here, else none")
    trials: int = Field(20, ge=1, description="the study's total number of trials (not an increment)")
    timeout: Union[str, float, None] = Field(None, description="no new trial after this long: seconds, or 30m, 2h, 1h30m")
    objectives: list[str] = Field(default_factory=list, description="metric:max|min, e.g. validation.macro_f1:max, "
                                  "train.seconds:min (default: the monitored validation metric)")
    pruner: Literal["median", "halving", "hyperband", "none"] = Field(
        "median", description="stop hopeless trials from their validation curves (single objective only)")
    sampler: Literal["tpe", "random"] = Field("tpe", description="how the next trial's values are chosen")
    startup_trials: int = Field(4, ge=0, description="random trials before TPE guides, and before pruning starts")
    seed: Optional[int] = Field(None, description="the sampler's seed (default: train.seed)")

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v):
        if v is not None:
            parse_duration(v)
        return v


class ContinualTask(Section):
    """One step of a continual sequence (docs/continual.md): a name, the classes it keeps, other data settings."""

    name: str = Field(..., min_length=1, description="the task's name (folder, matrix row and column)")
    classes: Optional[list[str]] = Field(None, description="keep only these classes of the data (class-incremental "
                                         "splits of one data set); unset: every class of the task's data")
    data: dict[str, Any] = Field(default_factory=dict, description="overrides of the recipe's data section for "
                                 "this task (train, validation, test, columns, max_train_samples...)")


class ReplaySection(Section):
    size: int = Field(..., ge=1, description="examples kept from earlier tasks (reservoir sampling) and added to "
                      "each later task's training data")
    seed: int = Field(0, description="seed of the reservoir")


class ContinualSection(Section):
    head: Literal["shared", "per-task"] = Field(
        "shared", description="shared: one head over the union of every task's classes (class- or "
        "domain-incremental); per-task: each task trains and is scored with its own head (task-incremental)")
    replay: Optional[ReplaySection] = Field(None, description="a reservoir of earlier tasks' training examples")


class Recipe(Section):
    task: str = Field(..., description="text-classification, image-classification, text-regression, image-regression, "
                                       "text-multilabel, image-multilabel, audio-classification, token-classification, "
                                       "causal-lm (`tuneforge list tasks`)")
    model: ModelSection
    data: DataSection
    strategy: StrategySection = Field(default_factory=StrategySection)
    regularisers: list[RegulariserSection] = Field(default_factory=list, description="penalties against forgetting")
    optimizer: OptimizerSection = Field(default_factory=OptimizerSection)
    scheduler: SchedulerSection = Field(default_factory=SchedulerSection)
    train: TrainSection = Field(default_factory=TrainSection)
    evaluate: EvaluateSection = Field(default_factory=EvaluateSection)
    output: OutputSection = Field(default_factory=OutputSection)
    generate: GenerateSection = Field(default_factory=GenerateSection)
    search: Optional[SearchSection] = Field(None, description="`tuneforge search`: space and study settings")
    privacy: Optional[PrivacySection] = Field(None, description="train with DP-SGD (Opacus): per-example "
                                              "clipping, noise, an accountant; see docs/privacy.md")
    name: Optional[str] = Field(None, description="a short name for the run")
    tasks: Optional[list[ContinualTask]] = Field(None, description="continual fine-tuning: train these tasks in "
                                                 "order, each from the last one's weights (docs/continual.md)")
    continual: Optional[ContinualSection] = Field(None, description="continual fine-tuning settings (with tasks)")

    @model_validator(mode="after")
    def _task_default_strategy(self):
        """A recipe that leaves ``strategy`` out gets its task's default strategy (the ``task.default_strategy``
        hook: ``Task.default_strategy``, ``lora`` for causal-lm, ``full`` elsewhere); written explicitly, so the
        saved recipe shows it."""
        if "strategy" not in self.model_fields_set:
            default = hook("task.default_strategy")(self.task)
            if default != self.strategy.name:
                self.strategy = StrategySection(name=default)
        return self
