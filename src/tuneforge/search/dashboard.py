"""A live web view of a search: optuna-dashboard served on the study's storage.

The search writes every trial to ``STUDY/study.db`` as it finishes, so the dashboard shows a
long search while it runs (history, intermediate curves, importances, the Pareto front). Two
ways to open it:

* ``tuneforge search ... --dashboard`` calls :func:`serve_dashboard` with ``block=False``, and
  the dashboard runs in a background thread beside the search;
* the one-liner :func:`dashboard_command` prints, for a search already running or finished::

      optuna-dashboard sqlite:///runs/search-x/study.db

Example::

    server = serve_dashboard("sqlite:///runs/search-x/study.db", port=0, block=False)
    print(server.url)       # http://127.0.0.1:43211/dashboard
    server.stop()
"""
from __future__ import annotations

import errno
import shlex
import threading
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Callable, Optional, Union
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from ..errors import TuneforgeError
from ..extras import require_extra

_SQLITE = "sqlite:///"
DASHBOARD_NEEDS = "the live dashboard"   # what names the dashboard extra when optuna-dashboard is missing


class _Server(ThreadingMixIn, WSGIServer):
    """A WSGI server answering each request in its own thread (the page loads several files at once)."""

    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002  (the base class's name)
        pass  # one line per request would bury the search's own progress


class DashboardServer:
    """A dashboard serving in a background thread: ``url`` to open, ``stop()`` to end it."""

    def __init__(self, server: WSGIServer, host: str):
        self._server = server
        self.host = host
        self.port = server.server_address[1]
        self.url = f"http://{host}:{self.port}/dashboard"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="optuna-dashboard", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the port (returns once the server thread has ended)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def wait(self) -> None:
        """Block until Ctrl-C (or until :meth:`stop` is called from another thread), then stop serving.

        ``tuneforge search --dashboard`` can call it after the last trial to keep the page up."""
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> "DashboardServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def storage_url(study: Union[str, Path]) -> str:
    """The storage URL of a study: a URL is kept; a study folder (or its ``study.db``) becomes ``sqlite:///...``."""
    text = str(study)
    if "://" in text:
        return text
    path = Path(text)
    if path.suffix != ".db":
        path = path / "study.db"
    return _SQLITE + path.as_posix()


def dashboard_command(study: Union[str, Path], port: Optional[int] = None) -> str:
    """The shell one-liner that opens the dashboard on a study (a storage URL or a study folder),
    e.g. ``optuna-dashboard sqlite:///runs/search-x/study.db``."""
    command = f"optuna-dashboard {shlex.quote(storage_url(study))}"
    return command + (f" --port {port}" if port is not None else "")


def _check_storage(url: str) -> None:
    """A SQLite study that is not there is an error (Optuna would quietly create an empty database)."""
    if url.startswith(_SQLITE):
        path = Path(url[len(_SQLITE):])
        if not path.is_file():
            raise TuneforgeError(f"no study database at {path}: is the study folder right? "
                                 "(a search writes STUDY/study.db when its first trial starts)")


def serve_dashboard(storage: Union[str, Path], host: str = "127.0.0.1", port: int = 8080,
                    block: bool = True, on_ready: Optional[Callable[["DashboardServer"], None]] = None
                    ) -> Optional[DashboardServer]:
    """Serve optuna-dashboard for ``storage`` (a storage URL or a study folder) on ``host:port``.

    ``block=True`` serves until Ctrl-C and returns ``None``; ``block=False`` returns a
    :class:`DashboardServer` running in a daemon thread (``stop()`` it, or ``wait()`` for Ctrl-C). ``port=0`` picks a free port (read it
    from ``server.port``). A port already in use, a missing database or a missing
    ``dashboard`` extra (optuna-dashboard) end in a :class:`TuneforgeError`. ``on_ready`` is called with the
    :class:`DashboardServer` once the port is open (to print its ``url``).
    """
    require_extra("dashboard", DASHBOARD_NEEDS)
    import optuna_dashboard

    url = storage_url(storage)
    _check_storage(url)
    try:
        app = optuna_dashboard.wsgi(url)
    except Exception as e:  # a malformed URL or an unreadable database, reported with its cause
        raise TuneforgeError(f"optuna-dashboard cannot open the storage {url}: {e}") from e
    try:
        server = make_server(host, port, app, server_class=_Server, handler_class=_QuietHandler)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise TuneforgeError(f"port {port} on {host} is already in use: choose another port "
                                 f"(or stop the program using it)") from e
        raise TuneforgeError(f"cannot serve the dashboard on {host}:{port}: {e.strerror or e}") from e
    running = DashboardServer(server, host)
    if on_ready:
        on_ready(running)
    if not block:
        return running
    running.wait()
    return None
