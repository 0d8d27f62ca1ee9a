"""What a caller that runs many recipes in one process (a search, a strategy race) hands each run.

A plain ``tuneforge run`` needs none of this. A search trial or a race round passes
:class:`RunHooks` to :func:`tuneforge.runs.pipeline.run` to

* reuse what does not change between runs: the loaded and split data (``data``), the tokenised
  or decoded splits (``encoded``, keyed by model and data settings) and the frozen pre-trained
  features the head solver reads (``features``, keyed by model and precision);
* add trainer callbacks (the search's pruning reporter);
* start from other weights than the pre-trained ones (``start``: a continual step starts from the
  previous step's model) and hand the regularisers what a continual step knows (``continual``);
* add what the mode knows to the run's record (``record``: entries of ``metrics.json``, e.g. a race's
  rounds and why its winner won) and a comment heading the saved ``recipe.yaml`` (``recipe_note``);
* run *lean*: train and score on validation only. The test split is never encoded or evaluated
  (the caller passes data without one), and the baselines, deeper analyses, diagnostics,
  report and saved model are skipped: a trial only needs its validation score and curve.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Callable, Optional


@dataclass
class RunHooks:
    data: Optional[Any] = None                 # a DataBundle already loaded and split
    callbacks: list = field(default_factory=list)
    lean: bool = False
    retention: bool = False                    # lean runs: still measure retention (a search objective)
    encoded: dict = field(default_factory=dict)   # (split, key) -> EncodedSplit
    features: dict = field(default_factory=dict)  # key -> {split: frozen features}
    start: Optional[Callable[[Any], None]] = None  # loads start weights into the freshly built task model
    continual: Optional[Any] = None            # a continual step's context (tuneforge.continual.StepContext)
    record: dict = field(default_factory=dict)    # added to metrics.json as it is
    recipe_note: str = ""                      # heads the run's recipe.yaml (a "# ..." comment block)

    @staticmethod
    def encoding_key(recipe) -> str:
        """What an encoded split depends on: the model (its tokenizer / preprocessing) and the data settings."""
        return _key(recipe.model.model_dump(), recipe.data.model_dump())

    @staticmethod
    def features_key(recipe) -> str:
        """What the frozen features depend on: the pre-trained model, its pooling and the numeric precision."""
        return _key(recipe.model.model_dump(exclude={"dropout"}), recipe.train.precision, recipe.data.model_dump())

    def clear(self) -> None:
        """Drop every shared object (the end of a search)."""
        self.encoded.clear()
        self.features.clear()


def _key(*parts) -> str:
    # an in-memory table (Python callers) is keyed by identity: the same object is the same data
    return json.dumps(parts, sort_keys=True,
                      default=lambda o: str(o) if isinstance(o, PurePath) else f"<{type(o).__name__} at {id(o):#x}>")
