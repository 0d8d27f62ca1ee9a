"""Cleaning: what is dropped or filled, counted per reason, and what is an error."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tuneforge.data.cleaning import clean_table
from tuneforge.data.packaged import resolve_source
from tuneforge.data.tables import read_table
from tuneforge.errors import DataError
from tuneforge.recipe.schema import CleanSection


def test_classification_drops_missing_and_duplicates():
    df = pd.DataFrame({"text": ["a", None, "  ", "b", "a", "c", "d"],
                       "label": ["x", "y", "y", None, "y", 1.0, 2]})
    out, report = clean_table(df, "text", "label", False, CleanSection(), "mem")
    assert report.dropped == {"missing text": 2, "missing label": 1, "duplicate text": 1}
    assert out["text"].tolist() == ["a", "c", "d"] and out["label"].tolist() == ["x", "1", "2"]
    assert report.rows_kept == 3 and list(out.index) == [0, 5, 6]  # original row numbers kept


def test_duplicates_kept_when_asked():
    df = pd.DataFrame({"text": ["a", "a"], "label": ["x", "y"]})
    out, report = clean_table(df, "text", "label", False, CleanSection(drop_duplicates=False), "mem")
    assert len(out) == 2 and report.dropped == {}


def test_missing_without_drop_is_an_error_naming_the_row(fixtures, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("text,label\nhello,a\n,b\n")
    df = read_table(path)
    with pytest.raises(DataError, match=r"row 2 \(line 3 of .*t.csv\) has no text.*drop_missing"):
        clean_table(df, "text", "label", False, CleanSection(drop_missing=False), str(path))


def test_regression_targets(tmp_path):
    df = pd.DataFrame({"text": list("abcd"), "y": [1.0, None, 3.0, "5"]})
    out, report = clean_table(df, "text", "y", True, CleanSection(), "mem")
    assert report.dropped == {"missing target": 1} and out["y"].tolist() == [1.0, 3.0, 5.0]
    out, report = clean_table(df, "text", "y", True, CleanSection(missing_target="mean"), "mem")
    assert report.filled == {"missing target (mean)": 1} and math.isclose(out["y"].iloc[1], 3.0)
    out, _ = clean_table(df, "text", "y", True, CleanSection(missing_target="median"), "mem")
    assert out["y"].iloc[1] == 3.0


def test_regression_bad_targets_name_row_and_value(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("text,y\na,1\nb,lots\n")
    with pytest.raises(DataError, match=r"row 2 \(line 3 of .*r.csv\): target 'lots' .* not a number"):
        clean_table(read_table(path), "text", "y", True, CleanSection(), str(path))
    df = pd.DataFrame({"text": ["a", "b"], "y": [1.0, np.inf]})
    with pytest.raises(DataError, match="row 2 of mem: target in column .y. is inf; fix"):
        clean_table(df, "text", "y", True, CleanSection(), "mem")


def test_images_are_not_deduplicated():
    df = pd.DataFrame({"image": ["a.png", "a.png", None], "label": ["x", "x", "y"]})
    out, report = clean_table(df, "image", "label", False, CleanSection(), "mem", modality="image")
    assert len(out) == 2 and report.dropped == {"missing image": 1}


def test_real_tweets():
    df, where, _ = resolve_source("tweets")
    out, report = clean_table(df, "text", "sentiment", False, CleanSection(), where)
    print(report.summary())
    assert report.rows_read == 38158 and report.dropped["duplicate text"] > 0
    assert report.rows_kept == len(out) and not out["text"].duplicated().any()
    out, report = clean_table(df, "text", "confidence", True, CleanSection(), where)
    print(report.summary())
    assert report.dropped["missing target"] == df["confidence"].isna().sum() > 0
    assert out["confidence"].notna().all()
    out, report = clean_table(df, "text", "confidence", True, CleanSection(missing_target="median"), where)
    print(report.summary())
    assert report.filled["missing target (median)"] > 0 and out["confidence"].notna().all()
