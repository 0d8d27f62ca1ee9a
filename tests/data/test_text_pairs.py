"""Text pairs (``data.text_column: [first, second]``): read, cleaned on both columns, tokenised as pairs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tuneforge.data import Split, encode_split, load_data
from tuneforge.data.check import check_data
from tuneforge.data.modalities import MODALITIES
from tuneforge.errors import DataError
from tuneforge.recipe.schema import DataSection
from tuneforge.tasks import TASKS

TEXT_CLS = TASKS.get("text-classification")


def _pairs_csv(tmp_path):
    rows = [{"premise": f"the movie number {i} was good", "hypothesis": ["the film was good", "the film was bad"][i % 2],
             "label": ["entail", "contradict"][i % 2]} for i in range(20)]
    rows += [{"premise": None, "hypothesis": "a film", "label": "entail"},          # missing first text
             {"premise": "a plot", "hypothesis": "  ", "label": "entail"},         # missing second text
             dict(rows[0]),                                                       # both texts repeat row 0
             {"premise": rows[0]["premise"], "hypothesis": "a new film", "label": "entail"}]   # only one repeats
    path = tmp_path / "nli.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_a_pair_is_a_list_of_two_different_columns():
    assert DataSection(train="x", text_column=["premise", "hypothesis"]).text_column == ["premise", "hypothesis"]
    for bad in (["premise"], ["a", "b", "c"], ["a", "a"]):
        with pytest.raises(ValueError, match="list of two different column names"):
            DataSection(train="x", text_column=bad)


def test_pairs_are_read_and_cleaned_on_both_columns(tmp_path):
    section = DataSection(train=str(_pairs_csv(tmp_path)), text_column=["premise", "hypothesis"],
                          validation=None, test=None)
    bundle = load_data(section, TEXT_CLS, seed=0)
    assert bundle.cleaning[0].dropped == {"missing text": 2, "duplicate text": 1}
    assert len(bundle.train) == 21
    assert all(isinstance(x, tuple) and len(x) == 2 for x in bundle.train.inputs)
    assert ("the movie number 0 was good", "a new film") in bundle.train.inputs
    assert bundle.description["columns"]["input"] == ["premise", "hypothesis"]


def test_a_missing_pair_column_is_named(tmp_path):
    section = DataSection(train=str(_pairs_csv(tmp_path)), text_column=["premise", "hypothesis2"])
    problems = check_data(section, TEXT_CLS)
    assert len(problems) == 1 and "data.text_column: column 'hypothesis2'" in problems[0]
    with pytest.raises(DataError, match="hypothesis2"):
        load_data(section, TEXT_CLS, seed=0)


def test_pairs_reach_the_tokenizer_as_pairs(text_model):
    tok = text_model.preprocessor
    pairs = [("the movie was good", "a bad film"), ("good", "the plot was very very not good")]
    enc = encode_split(Split(pairs, np.array([0, 1])), text_model, DataSection(train="x", max_length=64))
    batch = enc.batch(np.array([0, 1]))
    for j, (a, b) in enumerate(pairs):
        ref = tok(a, b)   # [CLS] a [SEP] b [SEP] with segment ids 0...0 1...1
        n = len(ref["input_ids"])
        assert batch["input_ids"][j, :n].tolist() == ref["input_ids"]
        assert batch["token_type_ids"][j, :n].tolist() == ref["token_type_ids"]
        assert batch["attention_mask"][j].sum() == n
        assert ref["input_ids"].count(tok.sep_token_id) == 2 and 1 in ref["token_type_ids"]
    assert batch["token_type_ids"][0, len(tok(*pairs[0])["input_ids"]):].tolist() == \
        [0] * (batch["input_ids"].shape[1] - len(tok(*pairs[0])["input_ids"]))   # padding is segment 0


def test_long_pairs_are_truncated_to_max_length_like_the_tokenizer(text_model):
    tok = text_model.preprocessor
    pair = ("good " * 30, "bad " * 5)
    enc = encode_split(Split([pair], np.array([0])), text_model, DataSection(train="x", max_length=12))
    assert enc.token_ids[0] == tok(*pair, truncation=True, max_length=12)["input_ids"]
    assert len(enc.token_ids[0]) == 12 and enc.token_ids[0].count(tok.sep_token_id) == 2


def test_single_texts_have_no_segment_ids(text_model):
    enc = encode_split(Split(["good", "bad film"], np.array([0, 1])), text_model, DataSection(train="x"))
    assert "token_type_ids" not in enc.batch(np.array([0, 1]))


def test_predict_inputs_of_a_pair_run():
    section = DataSection(train="x", text_column=["premise", "hypothesis"])
    text = MODALITIES.get("text")
    assert text.raw_inputs(["a good film ||| a bad film", ("x", "y"), {"premise": "p", "hypothesis": "h"},
                            {"text": "t", "text_pair": "u"}], section) == \
        [("a good film", "a bad film"), ("x", "y"), ("p", "h"), ("t", "u")]
    with pytest.raises(DataError, match="reads text pairs"):
        text.raw_inputs(["only one text"], section)
