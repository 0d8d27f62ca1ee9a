"""The tiny BERT and toy reviews of the end-to-end tests."""
from runs.conftest import text_csv  # noqa: F401
