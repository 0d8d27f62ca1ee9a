"""Errors a user can fix.

Anything raised as :class:`TuneforgeError` is the user's to mend (a bad recipe, a
missing file, an unknown label...). The command line prints its message and exits
with code 2, without a traceback. Every other exception is a bug in tuneforge and
exits with code 1.
"""
from __future__ import annotations


class TuneforgeError(Exception):
    """A problem in the user's input, with a message that says what and where.

    ``problems`` holds every problem found when several were collected at once
    (for example by recipe validation); ``str(error)`` lists them all.
    """

    def __init__(self, message: str | None = None, problems: list[str] | None = None):
        self.problems = list(problems or ([] if message is None else [message]))
        if message is None:
            n = len(self.problems)
            message = f"{n} problem{'s' if n != 1 else ''}:\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message)


class RecipeError(TuneforgeError):
    """The recipe (or an override) is invalid."""


class DataError(TuneforgeError):
    """A data file, column, label or image is missing or unreadable."""


class ModelError(TuneforgeError):
    """A model could not be found or loaded."""


class TrainingError(TuneforgeError):
    """Training cannot continue (for example a non-finite loss)."""
