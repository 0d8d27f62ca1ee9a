"""Durations as people write them: ``90``, ``90s``, ``30m``, ``2h``, ``1h30m``.

A pure function of the recipe's vocabulary: the schema checks ``search.timeout`` with it and the
search turns it into its deadline.
"""
from __future__ import annotations

import re
from typing import Union

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")


def parse_duration(value: Union[str, float, int]) -> float:
    """Seconds; a ValueError naming the accepted forms otherwise.

    >>> parse_duration("1h30m")
    5400.0
    """
    if isinstance(value, bool):
        raise ValueError(f"a duration is seconds or e.g. 30m, 2h, 1h30m (got {value!r})")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            parts = _PART.findall(text)
            if not parts or _PART.sub("", text).strip():
                raise ValueError(f"a duration is seconds or e.g. 30m, 2h, 1h30m (got {value!r})") from None
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not seconds > 0:
        raise ValueError(f"a duration must be positive (got {value!r})")
    return seconds
