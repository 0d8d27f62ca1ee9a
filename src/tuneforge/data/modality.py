"""What a modality is (the input side of a task) and the registry the modalities join.

:class:`Modality` is the interface the data loader, the data checks and prediction ask instead of
testing a task's input kind; :mod:`.modalities` registers text, image and audio, :mod:`.lm_examples`
the causal-LM text (``lm-text``) and :mod:`.words` word sequences. Import :mod:`.modalities` to
have them all registered.

Example::

    class Tabular(Modality):
        name, default_column = "tabular", "features"
    MODALITIES.register("tabular", "rows of numbers")(Tabular())
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from ..registry import Registry
from .tables import folder_message

MODALITIES: Registry["Modality"] = Registry("modality")


class Modality:
    """Inputs of one kind; see the module docstring."""

    name = ""
    default_column = ""
    default_label_column = "label"
    drops_duplicates = False   # whether cleaning drops exact duplicate inputs
    augments = False           # whether data.augment applies
    reads_folders = False      # whether a folder (of class sub-folders) can be a data source
    hf_example_head = ""       # transformers class with one output vector per example
    extra: Optional[str] = None   # the pip extra its decoding needs (tuneforge.extras), checked with the recipe

    @property
    def model_modality(self) -> str:
        """The kind of model that reads these inputs ("text" models also read word sequences)."""
        return self.name

    @property
    def column_key(self) -> str:
        return f"{self.name}_column"

    def column(self, data) -> tuple[str, str]:
        """(recipe key, column name) of the input column."""
        return self.column_key, getattr(data, self.column_key) or self.default_column

    def required_columns(self, data) -> list[tuple[str, str]]:
        """``[(recipe key, column)]`` every data source must have (the input column first)."""
        return [self.column(data)]

    def folder_problem(self, key: str, path: Path) -> Optional[str]:
        """Why ``path`` (a folder) cannot be a data source, or None when it can."""
        return f"{key}: {folder_message(path)}"

    def read_folder(self, path: Path):
        """The table (input path, label) of a folder with one sub-folder per class."""
        raise NotImplementedError

    def inputs(self, parts: dict, column: str, data) -> dict[str, Any]:
        """``{split: model inputs}`` of cleaned parts (each with ``df``, ``base_dir``, ``source``, ``where``)."""
        raise NotImplementedError

    def describe(self, inputs: dict[str, Any]) -> dict:
        return {}

    def raw_inputs(self, values: list, data) -> Any:
        """Inputs given to ``predict`` as a split's inputs."""
        raise NotImplementedError

    # -- the model side (read by the layers above instead of testing the name; see data/modalities.py) -----------------------------------------------------
    model_inputs: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")  # batch keys, ONNX order
    preprocessor_class = "AutoTokenizer"   # the transformers class that prepares raw inputs (saved beside the model)
    preprocessor_variable = "tokenizer"    # its name in model cards' usage code
    card_imports: tuple[str, ...] = ()     # imports the cards' usage code needs to read an example input
    card_call = ('inputs = tokenizer(["first text", "second text"], padding=True, truncation=True, '
                 'return_tensors="pt")')   # cards' line preparing two example inputs
    token_states = False        # features are token states pooled over the attention mask (distillation, explain)
    original_classifier = False  # pre-trained models come with a classifier of their own (distillation's logits,
                                 # retention's original-head agreement)

    def card_example(self, data: dict) -> str:
        """Cards' line preparing two example inputs of a run whose recipe ``data`` section is ``data``."""
        return self.card_call

    # the model card's first block: ``transformers.pipeline`` over the saved folder (artefacts/card_usage.py)
    pipeline_task = "text-classification"   # the pipeline a per-example head is served by

    def card_pipeline(self, data: dict, load_args: str) -> list[str]:
        """Lines building ``classifier`` (the pipeline over ``MODEL``; ``load_args`` are extra arguments such as
        ``, trust_remote_code=True``) and two self-contained example ``inputs``."""
        return [f'classifier = pipeline("{self.pipeline_task}", model=MODEL{load_args})',
                'inputs = ["first text", "second text"]']

    def card_pipeline_args(self, data: dict) -> str:
        """Extra arguments of the pipeline call that prepare inputs as training did (text: the same truncation)."""
        return ""

    def onnx_preprocessing(self, preprocessor) -> dict:
        """How inputs of an exported (ONNX) model must be prepared, in words its user can follow."""
        return {"tokenizer": "the tokenizer in this folder: AutoTokenizer.from_pretrained(folder)"}

    def saved_spec(self, preprocessor) -> dict:
        """What ``tuneforge.json`` records about the preprocessing beside a saved model (image size and
        normalisation), or nothing when the saved preprocessor holds it all."""
        return {}
