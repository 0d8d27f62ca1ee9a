"""`tuneforge --help` and `tuneforge list` start without importing torch or any other heavy library.

Each check runs the command line in a fresh interpreter and reports which heavy modules it imported.
`list` reads its cached listing (:mod:`tuneforge.listing_cache`); the cache is built here in the test
process (which has imported everything already) into a temporary folder.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from tuneforge.discover import LISTABLES, print_listing
from tuneforge.listing_cache import cached_listing, fingerprint

HEAVY = ("torch", "transformers", "timm", "peft", "optuna", "flwr", "opacus", "mlflow", "matplotlib", "sklearn",
         "pandas", "captum", "onnx", "accelerate", "scipy")
SRC = Path(__file__).resolve().parents[1] / "src"
PROBE = ("import json, sys\nfrom tuneforge.cli import main\nrc = main(sys.argv[1:])\n"
         "print(json.dumps({'rc': rc, 'heavy': sorted(m for m in %r if m in sys.modules)}))" % (HEAVY,))


def _cli(args, cache):
    env = {**os.environ, "PYTHONPATH": str(SRC), "TUNEFORGE_CACHE_DIR": str(cache), "COLUMNS": "160"}
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120)
    *printed, last = out.stdout.strip().splitlines()
    return json.loads(last), "\n".join(printed)


def test_help_imports_nothing_heavy(tmp_path):
    result, printed = _cli(["--help"], tmp_path)
    assert result == {"rc": 0, "heavy": []}
    assert "validate" in printed and "list" in printed


def test_list_reads_the_cache_without_heavy_imports_and_shows_every_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEFORGE_CACHE_DIR", str(tmp_path))
    expected = Console(record=True, width=160)
    print_listing(expected, None)  # in this process: imports the registries and writes the cache
    assert [p.name for p in tmp_path.iterdir()] == [f"listing-{fingerprint()}.json"]
    result, printed = _cli(["list"], tmp_path)
    assert result == {"rc": 0, "heavy": []}
    assert printed.split() == expected.export_text().split()
    for item in LISTABLES:
        assert all(name in printed for name in item.registry().names())


def test_a_changed_module_invalidates_the_cached_listing(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEFORGE_CACHE_DIR", str(tmp_path / "cache"))
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "strategies.py").write_text("A = 1\n")
    calls = []

    def build():
        calls.append(1)
        return {"strategies": {f"s{len(calls)}": "d"}}

    assert cached_listing(build, package) == {"strategies": {"s1": "d"}}
    assert cached_listing(build, package) == {"strategies": {"s1": "d"}} and len(calls) == 1  # read back
    (package / "new_strategy.py").write_text("B = 2\n")  # e.g. a module registering a new strategy
    assert cached_listing(build, package) == {"strategies": {"s2": "d"}} and len(calls) == 2
