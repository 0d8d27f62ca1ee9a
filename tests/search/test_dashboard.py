"""The live dashboard: optuna-dashboard serves a study's SQLite storage; the JSON API lists the study and
the page, once its JavaScript has run in headless Chromium, shows it; the documented one-liner serves
the same study; a missing database or a taken port is a clear error."""
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import optuna
import pytest

from tuneforge.errors import TuneforgeError
from tuneforge.search.dashboard import dashboard_command, serve_dashboard, storage_url

from helpers.studies import single_objective_study
from report.conftest import CHROMIUM_FLAGS, chromium

optuna.logging.set_verbosity(optuna.logging.WARNING)

NAME = "dashboard-study-7f3a"


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    """One SQLite study for the module (the dashboard only reads it)."""
    folder = tmp_path_factory.mktemp("study")
    single_objective_study(storage_url(folder), name=NAME)
    return folder


@pytest.fixture(scope="module")
def server(study_dir):
    running = serve_dashboard(study_dir, port=0, block=False)
    yield running
    running.stop()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def _visible_text(dom: str) -> str:
    dom = re.sub(r"<(style|script)\b.*?</\1>", " ", dom, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", dom).split())


def test_api_lists_the_study(server):
    studies = json.loads(_get(f"http://127.0.0.1:{server.port}/api/studies"))["study_summaries"]
    assert [s["study_name"] for s in studies] == [NAME]
    assert studies[0]["directions"] == ["maximize"]


def test_page_shows_the_study_after_its_javascript_runs(server):
    exe = chromium()
    if exe is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; CI installs it)")
    assert NAME.encode() not in _get(server.url)          # the served HTML alone does not name it
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=20000",
                               "--dump-dom", server.url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert NAME in _visible_text(done.stdout)


def test_study_page_shows_its_trials(server):
    """The study's own page (what a user watches during a search) renders its best trial and parameters."""
    exe = chromium()
    if exe is None:
        pytest.skip("Chromium is not installed")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=20000",
                               "--dump-dom", f"{server.url}/studies/1"], capture_output=True, text=True, timeout=120)
    text = _visible_text(done.stdout)
    assert "Best Trial (number=1)" in text and "optimizer.lr" in text


def test_server_stops_and_frees_its_port(study_dir):
    running = serve_dashboard(study_dir, port=0, block=False)
    port = running.port
    running.stop()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_missing_database_is_a_clear_error_and_creates_nothing(tmp_path):
    with pytest.raises(TuneforgeError, match="no study database at .*study.db"):
        serve_dashboard(tmp_path / "nowhere", port=0, block=False)
    assert not (tmp_path / "nowhere").exists()


def test_taken_port_is_a_clear_error(study_dir, server):
    with pytest.raises(TuneforgeError, match=f"port {server.port} on 127.0.0.1 is already in use"):
        serve_dashboard(study_dir, port=server.port, block=False)


def test_storage_url_and_one_liner(study_dir):
    assert storage_url("runs/x") == "sqlite:///runs/x/study.db"
    assert storage_url("runs/x/study.db") == "sqlite:///runs/x/study.db"
    assert storage_url("postgresql://db/optuna") == "postgresql://db/optuna"
    assert dashboard_command("runs/x") == "optuna-dashboard sqlite:///runs/x/study.db"
    assert (dashboard_command("runs/my search", port=8081)
            == "optuna-dashboard 'sqlite:///runs/my search/study.db' --port 8081")
    url = dashboard_command(study_dir).split(" ", 1)[1]
    assert optuna.load_study(study_name=NAME, storage=url).best_trial.number == 1


def test_the_documented_one_liner_serves_the_study(study_dir):
    exe = Path(sys.executable).with_name("optuna-dashboard")
    if not exe.is_file():
        pytest.skip("the optuna-dashboard command is not installed beside this Python")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = dashboard_command(study_dir, port=port).split()
    process = subprocess.Popen([str(exe), *args[1:], "--host", "127.0.0.1"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        studies = None
        for _ in range(300):               # wait for the server to listen (not a timing assertion)
            try:
                studies = json.loads(_get(f"http://127.0.0.1:{port}/api/studies"))["study_summaries"]
                break
            except OSError:
                if process.poll() is not None:
                    break
                time.sleep(0.1)
        assert studies is not None, f"optuna-dashboard exited with {process.poll()}"
        assert [s["study_name"] for s in studies] == [NAME]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_blocking_serve_announces_its_address_and_returns_once_stopped(study_dir):
    """``block=True`` (the command line's way) hands the running server to ``on_ready`` (to print its address)
    and serves until stopped; here another thread stops it, as Ctrl-C would end ``wait()``."""
    import threading

    seen = {}

    def ready(server):
        seen["url"] = server.url

        def look_then_stop():
            try:
                seen["studies"] = json.loads(_get(f"http://127.0.0.1:{server.port}/api/studies"))["study_summaries"]
            finally:                    # never leave the test blocked
                server.stop()

        threading.Thread(target=look_then_stop).start()

    assert serve_dashboard(study_dir, port=0, block=True, on_ready=ready) is None
    assert seen["url"].startswith("http://127.0.0.1:") and seen["url"].endswith("/dashboard")
    assert [s["study_name"] for s in seen["studies"]] == [NAME]
