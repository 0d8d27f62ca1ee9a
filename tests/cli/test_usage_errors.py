"""Command-line usage mistakes print click's usage line and one ``error:`` message, exit 2, no traceback."""
import subprocess
import sys

import pytest

from tuneforge.cli import main


def usage_error(argv, capsys) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured
    err = captured.err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[0].startswith("Usage: tuneforge"), err
    assert sum(line.startswith("error:") for line in lines) == 1, err
    assert "Traceback" not in err
    return " ".join(err.split())


@pytest.mark.parametrize("command, argument", [("compare", "recipe"), ("predict", "run_dir"),
                                               ("evaluate", "run_dir"), ("report", "folder"),
                                               ("validate", "recipe"), ("show", "kind")])
def test_missing_argument(command, argument, capsys):
    err = usage_error([command], capsys)
    assert f"Usage: tuneforge {command}" in err
    assert f"error: missing argument {argument.upper()}" in err  # the same wording whatever click's version


def test_unknown_option_lists_the_options(capsys):
    err = usage_error(["run", "--bogus", "recipes/demo.yaml"], capsys)
    assert "no such option: --bogus;" in err and "--quiet" in err and "did you mean" not in err


def test_near_miss_option_gets_did_you_mean(capsys):
    assert 'did you mean "--strategies"' in usage_error(["compare", "r.yaml", "--stratgies", "full"], capsys)


def test_unknown_command(capsys):
    err = usage_error(["frobnicate"], capsys)
    assert "no such command 'frobnicate';" in err and "commands: run, validate, list" in err
    assert "did you mean" not in err


def test_near_miss_command(capsys):
    assert 'did you mean "compare"' in usage_error(["compair", "x.yaml"], capsys)


def test_bad_option_value(capsys):
    err = usage_error(["evaluate", "somewhere", "--data", "d.csv", "--bootstrap", "many"], capsys)
    assert "Invalid value for '--bootstrap'" in err


def test_help_still_exits_0(capsys):
    assert main(["run", "--help"]) == 0
    assert "Usage" in capsys.readouterr().out


def test_in_a_real_process():
    """The installed entry point behaves the same (no traceback from the vendored click)."""
    done = subprocess.run([sys.executable, "-m", "tuneforge.cli", "run", "--quite", "x.yaml"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[0].startswith("Usage: tuneforge run")
    assert 'did you mean "--quiet"' in done.stderr


EXIT_SCRIPT = """
import atexit, sys, threading, time
atexit.register(lambda: print("exit handler ran", flush=False))
print("buffered line", end="")
if sys.argv[1] == "thread":
    threading.Thread(target=lambda: (time.sleep(0.5), print(" thread finished", end=""))).start()
from tuneforge.cli import _exit
_exit(int(sys.argv[2]))
"""


@pytest.mark.parametrize("thread", ["none", "thread"])
def test_the_entry_point_exits_fast_but_runs_exit_handlers_flushes_and_waits_for_threads(thread):
    """entry() skips interpreter teardown (os._exit), never what a normal exit promises: the code, the
    atexit handlers, buffered output, and a running non-daemon thread's end."""
    done = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, thread, "3"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith("buffered line") and "exit handler ran" in done.stdout
    assert (" thread finished" in done.stdout) == (thread == "thread")
