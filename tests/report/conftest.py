"""One tiny text run with every evaluation extra switched on, shared by the report tests."""
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import tuneforge

from runs.conftest import text_csv, text_recipe  # noqa: F401  (fixtures)

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0"]


@pytest.fixture(scope="session")
def full_run(bert_dir, text_csv, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("report-runs")
    return tuneforge.finetune(text_recipe(bert_dir, text_csv, out, **{
        "evaluate.bootstrap": 200, "evaluate.random_init": True, "evaluate.explain": 2,
        "evaluate.retention": {"probe_size": 40}}))


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def render(html_file: Path) -> tuple[str, str]:
    """(DOM after rendering, browser log) of ``html_file`` in headless Chromium; skips without Chromium."""
    exe = chromium()
    if exe is None:
        pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver; CI installs it)")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                               html_file.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def console_errors(log: str) -> list[str]:
    """Console messages and page errors Chromium logged (its own dbus/GPU chatter is not the page's)."""
    return [line for line in log.splitlines()
            if "CONSOLE" in line or "Uncaught" in line or "Failed to load resource" in line]
