"""Fixtures for the models tests: tiny offline models, built once per session.

``tests/conftest.py`` puts ``tests/`` on ``sys.path`` and sets ``HF_HUB_OFFLINE=1``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers.tiny import tiny_llama, tiny_timm_cnn, tiny_vit


@pytest.fixture(scope="session")
def vit_dir(tmp_path_factory) -> Path:
    return tiny_vit(tmp_path_factory.mktemp("vit"))


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory) -> Path:
    return tiny_llama(tmp_path_factory.mktemp("llama"))


@pytest.fixture(scope="session")
def timm_weights(tmp_path_factory) -> Path:
    return tiny_timm_cnn(tmp_path_factory.mktemp("timm"))
