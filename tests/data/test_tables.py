"""Reading user tables: every format, and a clear DataError for every way a file can be wrong."""
from __future__ import annotations

import pandas as pd
import pytest

from tuneforge.data.tables import LINES_ATTR, as_table, read_columns, read_table
from tuneforge.errors import DataError


def test_reads_csv_fixture(fixtures):
    df = read_table(fixtures / "reviews.csv")
    assert list(df.columns) == ["text", "label"] and len(df) == 8
    assert df.attrs[LINES_ATTR][:2] == [2, 3]


def test_reads_tsv_jsonl_parquet(tmp_path, fixtures):
    (tmp_path / "a.tsv").write_text("text\tlabel\nhello, world\tpos\n")
    assert read_table(tmp_path / "a.tsv").loc[0, "text"] == "hello, world"
    df = read_table(fixtures / "reviews.jsonl")
    assert len(df) == 3 and df.attrs[LINES_ATTR] == [1, 2, 4]  # blank line 3 skipped, lines stay exact
    pd.DataFrame({"text": ["x", "y"], "label": [0, 1]}).to_parquet(tmp_path / "a.parquet")
    assert read_table(tmp_path / "a.parquet")["label"].tolist() == [0, 1]
    (tmp_path / "arr.json").write_text('[{"text": "x", "label": 1}]')
    assert len(read_table(tmp_path / "arr.json")) == 1


def test_in_memory_tables():
    for source in (pd.DataFrame({"text": ["a"], "label": [1]}), {"text": ["a"], "label": [1]},
                   [{"text": "a", "label": 1}]):
        df, where = as_table(source)
        assert list(df.columns) == ["text", "label"] and where == "<in-memory table>"
    with pytest.raises(DataError, match="equal length"):
        as_table({"text": ["a", "b"], "label": [1]})
    with pytest.raises(DataError, match="got int"):
        as_table(3)


@pytest.mark.parametrize("name, content, expected", [
    ("empty.csv", b"", "is empty"),
    ("blank.csv", b"\n\n  \n", "is empty"),
    ("header.csv", b"text,label\n", "has a header (text, label) but no data rows"),
    ("semi.csv", b"text;label\nhi;pos\nyo;neg\n", "looks like ';'-separated"),
    ("tabs.csv", b"text\tlabel\nhi\tpos\n", "looks like tab-separated"),
    ("ragged.csv", b"text,label\na,b\nc,d,e,f\n", "line 3"),
    ("latin.csv", "text,label\ncaf\u00e9,pos\n".encode("latin-1"), "byte 14 (line 2)"),
    ("bad.jsonl", b'{"text": "a"}\n{"text": \n', "line 2 is not valid JSON"),
    ("list.jsonl", b'{"text": "a"}\n[1, 2]\n', "line 2 is a list"),
    ("bad.parquet", b"PAR1 definitely not parquet", "could not be read as Parquet"),
    ("data.xlsx", b"xx", "unsupported file type '.xlsx'"),
])
def test_bad_files_name_the_file_and_problem(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_table(path)
    assert expected in str(info.value) and name in str(info.value)


def test_not_utf8_suggests_resaving(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ncaf\u00e9,pos\n".encode("latin-1"))
    with pytest.raises(DataError, match="re-save the file as UTF-8"):
        read_table(path)
    assert read_table(path, encoding="latin-1").loc[0, "text"] == "caf\u00e9"


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match="nope.csv: no such file"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a folder, not a table"):
        read_table(tmp_path)


def test_read_columns_reads_headers_only(tmp_path, fixtures):
    assert read_columns(fixtures / "reviews.csv") == ["text", "label"]
    assert read_columns(fixtures / "reviews.jsonl") == ["text", "label"]
    pd.DataFrame({"a": [1], "b": [2]}).to_parquet(tmp_path / "t.parquet")
    assert read_columns(tmp_path / "t.parquet") == ["a", "b"]


def test_read_columns_spots_the_wrong_separator(tmp_path):
    (tmp_path / "semi.csv").write_text("text;label\nhi;pos\n")
    with pytest.raises(DataError, match="looks like ';'-separated"):
        read_columns(tmp_path / "semi.csv")
