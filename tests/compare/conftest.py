"""The tiny BERT and toy reviews of the end-to-end tests."""
from runs.conftest import bert_dir, text_csv  # noqa: F401
