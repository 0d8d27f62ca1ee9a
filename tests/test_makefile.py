"""`make demo`, `make install` and `make test` work as an ordinary user: nothing asks for apt or sudo.

Fashion-MNIST (a Debian package) is installed only by the explicit `make data`; image recipes that need
it without it fail with the loader's message naming the install command.
"""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["demo", "install", "test", "test-fast"])
@pytest.mark.parametrize("installed", [False, True], ids=["fresh", "installed"])
def test_user_targets_never_call_apt_or_sudo(target, installed, tmp_path):
    venv = tmp_path / "venv"
    if installed:  # a stamp newer than pyproject.toml: the venv is up to date
        venv.mkdir()
        (venv / ".tuneforge-installed").touch()
    out = subprocess.run(["make", "-n", "-C", str(ROOT), f"VENV={venv}", target], capture_output=True, text=True,
                         check=True).stdout
    assert "pip install" in out or installed   # the dry run did print the install recipe on a fresh venv
    assert "apt-get" not in out and "sudo" not in out, out
    assert "dataset-fashion-mnist" not in out


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_data_target_still_installs_fashion_mnist_on_request():
    out = subprocess.run(["make", "-n", "-C", str(ROOT), "data"], capture_output=True, text=True, check=True).stdout
    assert "apt-get install -y -q dataset-fashion-mnist" in out or "/usr/share/datasets/fashion-mnist" in out
