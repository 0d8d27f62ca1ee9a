"""Opening a study database: workers started together on a fresh SQLite file all get in."""
import multiprocessing

import pytest

from tuneforge.errors import TuneforgeError
from tuneforge.search import storage


def _open(url, barrier, results):
    barrier.wait()   # every worker creates the fresh database's tables at the same moment
    try:
        storage.open_storage(url)
        results.put("ok")
    except TuneforgeError as e:
        results.put(str(e))


def test_workers_opening_a_fresh_sqlite_study_together_all_succeed(tmp_path):
    ctx = multiprocessing.get_context("fork")
    n = 4
    barrier, results = ctx.Barrier(n), ctx.Queue()
    url = storage.default_storage_url(tmp_path)
    procs = [ctx.Process(target=_open, args=(url, barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert sorted(results.get(timeout=5) for _ in range(n)) == ["ok"] * n


def test_a_lost_creation_race_is_retried_and_other_errors_are_not(monkeypatch):
    import optuna
    from sqlalchemy.exc import IntegrityError, OperationalError

    calls = []

    def flaky(url, **kwargs):
        calls.append(url)
        if len(calls) == 1:
            raise IntegrityError("INSERT INTO alembic_version", {}, Exception("UNIQUE constraint failed"))
        return "storage"

    monkeypatch.setattr(optuna.storages, "RDBStorage", flaky)
    monkeypatch.setattr(storage.time, "sleep", lambda s: None)
    assert storage.open_storage("sqlite:///x.db") == "storage" and len(calls) == 2

    def unreachable(url, **kwargs):
        calls.append(url)
        raise OperationalError("connect", {}, Exception("could not connect to server"))

    calls.clear()
    monkeypatch.setattr(optuna.storages, "RDBStorage", unreachable)
    with pytest.raises(TuneforgeError, match="cannot open the study database: .*could not connect"):
        storage.open_storage("postgresql://u:secret@db/x")
    assert len(calls) == 1
