"""Tiny finished runs shared by the artefacts tests (the text data and the timm CNN of tests/runs)."""
from runs.conftest import cnn_weights, text_csv  # noqa: F401  (session fixtures, shared)
