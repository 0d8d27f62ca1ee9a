"""Stands in for model code from a hub repository. If tuneforge ever imports it without
``model.trust_remote_code: true``, it leaves a marker file that the test looks for."""
import os
from pathlib import Path

Path(os.environ.get("TUNEFORGE_REMOTE_CODE_MARKER", os.devnull)).write_text("remote code ran\n")

from transformers import PretrainedConfig  # noqa: E402


class RemoteConfig(PretrainedConfig):
    model_type = "tuneforge-test-remote"
