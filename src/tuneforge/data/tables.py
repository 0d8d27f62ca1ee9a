"""Read a user's table (CSV, TSV, JSON Lines, Parquet, or in-memory data) into a DataFrame.

Every way a file can be wrong (missing, a folder, empty, only a header, not UTF-8,
the wrong delimiter, a broken line) becomes one :class:`DataError` naming the file
and, where known, the line, so that no pandas traceback reaches the user.

Example::

    df = read_table("reviews.csv")
    df, where = as_table([{"text": "good", "label": "pos"}])   # where == "<in-memory table>"

Each returned DataFrame carries ``df.attrs["tuneforge.lines"]``: the 1-based file line of
each row when that is known exactly (else ``None``), so later errors can say
"row 17 (line 18 of train.csv)".
"""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Optional

import pandas as pd

from ..errors import DataError
from .conll import TAGS, TOKENS, parse_conll
from .rows import LINES_ATTR, row_label  # noqa: F401  (re-exported: the tables' users name rows with them)

IN_MEMORY = "<in-memory table>"
TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet",
                  ".conll": "conll", ".conllu": "conll", ".bio": "conll"}


def table_kind(path: Path) -> Optional[str]:
    """'csv', 'tsv', 'jsonl' or 'parquet' from the file name, or None."""
    return TABLE_SUFFIXES.get(path.suffix.lower())


def _check_file(path: Path) -> str:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(folder_message(path))
    kind = table_kind(path)
    if kind is None:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; "
                        "use .csv, .tsv, .jsonl (JSON Lines), .json (JSON Lines), .parquet or .conll (token TAB tag)")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty")
    return kind


def folder_message(path: Path) -> str:
    return (f"{path} is a folder, not a table; give a .csv/.tsv/.jsonl/.parquet file "
            "(a folder only works for image tasks, as an image folder with one sub-folder per class)")


def _read_text(path: Path, encoding: Optional[str]) -> str:
    raw = path.read_bytes()
    if encoding is not None:
        return raw.decode(encoding)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        offset = e.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        line = raw[:offset].count(b"\n") + 1
        raise DataError(f"{path} is not UTF-8 text: byte {offset} (line {line}) is {raw[offset:offset + 1]!r}; "
                        "re-save the file as UTF-8") from None


def _check_separator(path: Path, df: pd.DataFrame, sep: str) -> None:
    """A table that parsed to one column whose header holds another separator was saved with that one."""
    if df.shape[1] != 1:
        return
    header = str(df.columns[0])
    for other, name in ((";", "';'"), ("\t", "tab"), (",", "','"), ("|", "'|'")):
        if other != sep and other in header:
            expected = "tab-separated (.tsv)" if sep == "\t" else "comma-separated (.csv)"
            raise DataError(f"{path} looks like {name}-separated (its header is {header!r}), but "
                            f"{path.suffix} files must be {expected}; re-save it with the right separator "
                            "or rename it to match")


def _read_delimited(path: Path, text: str, sep: str) -> pd.DataFrame:
    if not text.strip():
        raise DataError(f"{path} is empty")
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except pd.errors.ParserError as e:
        raise DataError(f"{path} could not be parsed: {str(e).strip()}; check the quoting and the number "
                        "of fields on that line") from None
    _check_separator(path, df, sep)
    if len(df) == 0:
        raise DataError(f"{path} has a header ({', '.join(map(str, df.columns))}) but no data rows")
    # Line numbers are exact only when every record sits on its own non-blank line.
    non_blank = sum(1 for line in text.splitlines() if line.strip())
    df.attrs[LINES_ATTR] = list(range(2, len(df) + 2)) if non_blank == len(df) + 1 else None
    return df


def _read_jsonl(path: Path, text: str) -> pd.DataFrame:
    stripped = text.lstrip()
    if not stripped:
        raise DataError(f"{path} is empty")
    if stripped.startswith("["):  # a plain JSON array of objects is accepted too
        try:
            records = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: invalid JSON at line {e.lineno}: {e.msg}") from None
        lines = None
    else:
        records, lines = [], []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DataError(f"{path}: line {number} is not valid JSON ({e.msg}); JSON Lines files "
                                "hold one JSON object per line") from None
            lines.append(number)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            where = f"line {lines[i]}" if lines else f"item {i + 1}"
            raise DataError(f"{path}: {where} is a {type(record).__name__}, not an object like "
                            '{"text": ..., "label": ...}')
    if not records:
        raise DataError(f"{path} has no records")
    df = pd.DataFrame.from_records(records)
    df.attrs[LINES_ATTR] = lines
    return df


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except Exception as e:  # pyarrow raises many types for a broken file
        raise DataError(f"{path} could not be read as Parquet ({type(e).__name__}: {e}); "
                        "check that the file is complete and really is Parquet") from None
    if len(df) == 0:
        raise DataError(f"{path} has columns ({', '.join(map(str, df.columns))}) but no rows")
    df.attrs[LINES_ATTR] = None
    return df


def read_table(path: str | Path, encoding: Optional[str] = None) -> pd.DataFrame:
    """Read a .csv, .tsv, .jsonl/.json (JSON Lines) or .parquet file.

    Text files must be UTF-8 unless ``encoding`` is given (packaged data sets know theirs).
    """
    path = Path(path)
    kind = _check_file(path)
    if kind == "parquet":
        return _read_parquet(path)
    text = _read_text(path, encoding)
    if kind == "conll":
        return parse_conll(text, str(path))
    if kind == "jsonl":
        return _read_jsonl(path, text)
    return _read_delimited(path, text, "\t" if kind == "tsv" else ",")


def read_columns(path: str | Path) -> list[str]:
    """The column names of a table, reading as little of it as possible (for ``tuneforge validate``)."""
    path = Path(path)
    kind = _check_file(path)
    if kind == "parquet":
        try:
            import pyarrow.parquet as pq
            return [str(c) for c in pq.read_schema(path).names]
        except Exception as e:
            raise DataError(f"{path} could not be read as Parquet ({type(e).__name__}: {e})") from None
    if kind == "conll":
        return [TOKENS, TAGS]
    if kind == "jsonl":
        columns: dict[str, None] = {}
        with open(path, "rb") as f:
            head = [f.readline() for _ in range(20)]
        text = b"".join(head).decode("utf-8", errors="replace")
        if text.lstrip().startswith("["):
            return list(read_table(path).columns)
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}: line {number} is not valid JSON ({e.msg})") from None
                if isinstance(record, dict):
                    columns.update(dict.fromkeys(map(str, record)))
        return list(columns)
    sep = "\t" if kind == "tsv" else ","
    try:
        df = pd.read_csv(path, sep=sep, nrows=5, encoding="utf-8")
    except UnicodeDecodeError:
        _read_text(path, None)  # raises the message with the byte offset
        raise
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as e:
        raise DataError(f"{path} could not be parsed: {str(e).strip() or 'empty file'}") from None
    _check_separator(path, df, sep)
    return [str(c) for c in df.columns]


def as_table(source: Any) -> tuple[pd.DataFrame, str]:
    """A DataFrame and a description from a path, a DataFrame, a dict of columns or a list of dicts."""
    if isinstance(source, (str, Path)):
        return read_table(source), str(source)
    if isinstance(source, pd.DataFrame):
        df = source.reset_index(drop=True)
    elif isinstance(source, dict):
        try:
            df = pd.DataFrame(source)
        except ValueError as e:
            raise DataError(f"{IN_MEMORY}: a dict of columns needs lists of equal length ({e})") from None
    elif isinstance(source, (list, tuple)) and all(isinstance(r, dict) for r in source):
        df = pd.DataFrame.from_records(list(source))
    else:
        raise DataError(f"data must be a path, a packaged data set name, a pandas DataFrame, a dict of "
                        f"columns or a list of dicts; got {type(source).__name__}")
    if len(df) == 0:
        raise DataError(f"{IN_MEMORY} has no rows")
    df.attrs[LINES_ATTR] = None
    return df, IN_MEMORY
