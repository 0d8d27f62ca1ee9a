"""Fashion-MNIST is a Debian package (needs root): tests that read it skip when it is missing.

CI installs it and sets ``TUNEFORGE_REQUIRE_FASHION=1``, so there a missing data set fails those tests
(with the loader's own message) instead of skipping them. ``make demo``/``make test`` never install it.
"""
import os

import pytest

from tuneforge.data.packaged import FASHION_MNIST_DIR

REASON = "Fashion-MNIST is not installed (sudo apt-get install dataset-fashion-mnist)"


def fashion_missing() -> bool:
    """True when the tests that need Fashion-MNIST should skip."""
    return not FASHION_MNIST_DIR.is_dir() and os.environ.get("TUNEFORGE_REQUIRE_FASHION") != "1"


needs_fashion = pytest.mark.skipif(fashion_missing(), reason=REASON)
