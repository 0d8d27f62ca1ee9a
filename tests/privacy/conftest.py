"""The end-to-end runs' tiny data (tests/runs/conftest.py) for the privacy tests."""
from runs.conftest import text_csv  # noqa: F401  (a session fixture, shared)
