"""check_data: cheap problems for `tuneforge validate`, each naming its recipe key."""
from __future__ import annotations

import pandas as pd

from tuneforge.data import check_data
from tuneforge.recipe.schema import DataSection
from tuneforge.tasks import TASKS

from helpers.fashion import needs_fashion

TEXT_CLS = TASKS.get("text-classification")
IMAGE_CLS = TASKS.get("image-classification")


def test_good_data_has_no_problems(fixtures):
    assert check_data(DataSection(train=str(fixtures / "reviews.csv")), TEXT_CLS) == []
    assert check_data(DataSection(train="tweets", label_column="sentiment"), TEXT_CLS) == []


@needs_fashion
def test_good_image_data_set_has_no_problems():
    assert check_data(DataSection(train="fashion-mnist", test="fashion-mnist:test"), IMAGE_CLS) == []


def test_unknown_name_and_missing_file():
    problems = check_data(DataSection(train="tweet", validation="nope/val.csv"), TEXT_CLS)
    assert problems[0].startswith("data.train: no file or packaged data set named 'tweet'")
    assert 'did you mean "tweets"' in problems[0]
    assert problems[1].startswith("data.validation: no file or packaged data set named 'nope/val.csv'")


def test_missing_columns_are_named(fixtures, tmp_path):
    problems = check_data(DataSection(train=str(fixtures / "reviews.jsonl"), label_column="lable"), TEXT_CLS)
    assert problems == [f"data.label_column: column 'lable' is not in {fixtures / 'reviews.jsonl'} "
                        "(columns: text, label; did you mean \"label\"?)"]
    pd.DataFrame({"img": ["a.png"], "label": [1]}).to_parquet(tmp_path / "t.parquet")
    problems = check_data(DataSection(train=str(tmp_path / "t.parquet")), IMAGE_CLS)
    assert problems[0].startswith("data.image_column: column 'image' is not in")


def test_bad_file_split_and_options(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    problems = check_data(DataSection(train=str(tmp_path / "empty.csv"), test="tweets:test", root="/no/such",
                                      labels=["a", "a"]), TEXT_CLS)
    assert any(p.startswith("data.train:") and "is empty" in p for p in problems)
    assert any(p.startswith("data.test: data set 'tweets' has no split 'test'") for p in problems)
    assert "data.root: /no/such is not a folder" in problems
    assert "data.labels: a class name is listed twice" in problems
