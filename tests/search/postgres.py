"""A throw-away PostgreSQL server for the shared-study tests (Debian's ``postgresql`` package).

``TUNEFORGE_TEST_POSTGRES=URL`` uses a server that is already running instead. Without the
server binaries the tests are skipped, unless ``TUNEFORGE_REQUIRE_POSTGRES=1`` (set by
``.ci/run``) makes that a failure. The server listens only on a Unix socket in a fresh
folder; as root it runs as the ``postgres`` user, since PostgreSQL refuses to run as root.
"""
from __future__ import annotations

import glob
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def _bin(name: str):
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def start_postgres():
    """(url, stop) of a running server."""
    url = os.environ.get("TUNEFORGE_TEST_POSTGRES")
    if url:
        return url, lambda: None
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not (initdb and pg_ctl):
        if os.environ.get("TUNEFORGE_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="tuneforge-pg-"))
    os.chmod(root, 0o755)
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    as_user = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = random.randint(20000, 40000)
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True, text=True, timeout=120)  # noqa: E731
    run(initdb, "-D", str(data), "-A", "trust", "-U", "tuneforge", "--no-sync")
    run(pg_ctl, "-D", str(data), "-w", "-l", str(root / "server.log"),
        "-o", f"-k {sock} -p {port} -c listen_addresses='' -c fsync=off", "start")
    run(_bin("createdb") or "createdb", "-h", str(sock), "-p", str(port), "-U", "tuneforge", "studies")

    def stop():
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)

    return f"postgresql+psycopg://tuneforge@/studies?host={sock}&port={port}", stop
