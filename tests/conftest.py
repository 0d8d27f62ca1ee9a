import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# `tuneforge list` caches its listing (tuneforge.listing_cache): keep the tests' out of the user's ~/.cache
os.environ.setdefault("TUNEFORGE_CACHE_DIR", tempfile.mkdtemp(prefix="tuneforge-test-cache-"))
sys.path.insert(0, str(Path(__file__).parent))  # `import toy`, `from helpers.tiny import ...`


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory):
    """A tiny BERT folder (2 layers, hidden 32, word-level tokenizer), built once for the whole session."""
    from helpers.tiny import tiny_bert

    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"))
