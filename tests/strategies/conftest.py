import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # `import kit`


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    import kit
    return kit.build_tiny(tmp_path_factory.mktemp("tiny"))
