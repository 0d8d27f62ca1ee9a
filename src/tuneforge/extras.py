"""Optional dependencies: which pip extra brings which library, and one message when it is missing.

The core install fine-tunes, evaluates and reports. Subsystems with heavy libraries of their own
are extras of the package, as in transformers and Lightning (``pip install 'tuneforge[privacy]'``);
``tuneforge[all]`` installs every one (``make install`` and CI do). A recipe or command that needs a
missing extra stops with one :class:`MissingExtra` (a user error: exit code 2, no traceback) that
names the ``pip install`` line, before any run folder exists wherever the recipe or the command's
options already tell:

* recipe checks: ``privacy:`` (:func:`tuneforge.privacy.privacy_problems`), ``output.trackers:
  [mlflow]`` (:func:`tuneforge.training.trackers.tracker_problems`), an audio task
  (:func:`tuneforge.data.check_data`, through ``Modality.extra``) each add :func:`extra_problem`;
* commands: ``tuneforge federate`` (importing :mod:`tuneforge.federated`), ``export --onnx``,
  ``export --sentence-transformers``,
  ``search --dashboard`` and ``search --storage postgresql+psycopg://...`` call
  :func:`require_extra` first; every import site of an optional library calls it too.

Availability is looked up with ``importlib.util.find_spec`` on the top-level modules, which
imports nothing (Ray, MLflow and Flower take seconds to import).

Example::

    require_extra("onnx", "tuneforge export --onnx")
    # MissingExtra: tuneforge export --onnx needs the onnx extra: pip install 'tuneforge[onnx]'
    extra_problem("privacy", "privacy: DP-SGD")   # None when Opacus is installed
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Optional

from .errors import TuneforgeError


@dataclass(frozen=True)
class Extra:
    """One pip extra: the top-level modules it must make importable, and what it is for."""

    modules: tuple[str, ...]
    purpose: str


# name -> Extra; pyproject.toml's [project.optional-dependencies] lists the same names (tests/test_extras.py checks)
EXTRAS: dict[str, Extra] = {
    "audio": Extra(("soundfile",), "audio tasks: decoding WAV/FLAC/OGG/MP3 clips"),
    "explain": Extra(("captum",), "gradient attributions in the report (integrated gradients, Grad-CAM)"),
    "onnx": Extra(("onnx", "onnxscript", "onnxruntime"), "tuneforge export --onnx"),
    "privacy": Extra(("opacus",), "DP-SGD under privacy:"),
    "federated": Extra(("flwr", "ray"), "tuneforge federate (Flower's simulation engine on Ray)"),
    "mlflow": Extra(("mlflow",), "output.trackers: [mlflow]"),
    "postgres": Extra(("psycopg",), "search studies in PostgreSQL (--storage postgresql+psycopg://...)"),
    "dashboard": Extra(("optuna_dashboard",), "tuneforge search --dashboard"),
    "sentence-transformers": Extra(("sentence_transformers",), "tuneforge export --sentence-transformers"),
}


class MissingExtra(TuneforgeError):
    """A recipe or command needs an optional dependency that is not installed."""

    def __init__(self, extra: str, what: str):
        self.extra = extra
        super().__init__(extra_message(extra, what))


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):   # a blocked or half-imported module counts as missing
        return False


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (empty when it is installed)."""
    return [m for m in EXTRAS[extra].modules if not _importable(m)]


def has_extra(extra: str) -> bool:
    return not missing_modules(extra)


def install_line(extra: str) -> str:
    return f"pip install 'tuneforge[{extra}]'"


def extra_message(extra: str, what: str) -> str:
    """``"<what> needs the <extra> extra: pip install 'tuneforge[<extra>]'"``."""
    if extra not in EXTRAS:
        raise KeyError(f"unknown extra {extra!r}")
    return f"{what} needs the {extra} extra: {install_line(extra)}"


def extra_problem(extra: str, what: str) -> Optional[str]:
    """The message for a recipe's problem list when ``extra`` is missing, else None."""
    return None if has_extra(extra) else extra_message(extra, what)


def require_extra(extra: str, what: str) -> None:
    """Raise :class:`MissingExtra` (naming ``what`` and the pip line) unless ``extra`` is installed."""
    if not has_extra(extra):
        raise MissingExtra(extra, what)
