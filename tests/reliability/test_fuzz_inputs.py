"""Property-based: random tables through the loaders and random recipes through the validator never
raise anything but a TuneforgeError (a clean message); success is fine too.

Example counts are modest (tens each) so the file runs in seconds; hypothesis remembers failing
examples in its database and replays them first.
"""
import json
import string
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuneforge.data import check_data, load_data
from tuneforge.data.tables import as_table, read_table
from tuneforge.errors import TuneforgeError
from tuneforge.recipe import all_problems, load_recipe
from tuneforge.recipe.schema import DataSection
from tuneforge.tasks import TASKS

TEXT_CLS = TASKS.get("text-classification")
TEXT_REG = TASKS.get("text-regression")


CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "files"
SETTINGS = settings(max_examples=80, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

names = st.one_of(st.sampled_from(["text", "label", "score", "image", "Text", " label", ""]),
                  st.text(min_size=0, max_size=8))
cells = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                  st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
                  st.sampled_from(["positive", "negative", "nan", "inf", "1e39", "", " ", "0", "1"]))


@st.composite
def tables(draw):
    base = draw(st.sampled_from([[], ["text", "label"], ["text", "score"], ["text", "label", "score"]]))
    columns = base + draw(st.lists(names, min_size=0 if base else 1, max_size=3))
    rows = draw(st.integers(0, 16))
    return {c: [draw(cells) for _ in range(rows)] for c in dict.fromkeys(columns)}


def _write(table: dict, kind: str, folder: Path) -> Path:
    df = pd.DataFrame(table)
    path = folder / f"t.{kind}"
    if kind == "csv":
        df.to_csv(path, index=False)
    elif kind == "jsonl":
        path.write_text("".join(json.dumps(r, default=str) + "\n" for r in df.to_dict("records")))
    else:
        df.astype(str).to_parquet(path)
    return path


@SETTINGS
@given(table=tables(), kind=st.sampled_from(["csv", "jsonl", "parquet", "memory"]),
       classification=st.booleans(), fraction=st.sampled_from([None, 0.2, 0.5]),
       labels=st.one_of(st.none(), st.lists(st.sampled_from(["positive", "negative", "0", "1"]), max_size=3)),
       label_column=st.sampled_from([None, "score", "label"]), seed=st.integers(0, 3))
def test_random_tables_load_or_fail_cleanly(table, kind, classification, fraction, labels, label_column, seed):
    with tempfile.TemporaryDirectory() as tmp:
        try:
            source = table if kind == "memory" else _write(table, kind, Path(tmp))
        except (ValueError, TypeError, OverflowError):
            return  # pandas/pyarrow cannot even write this table: nothing for tuneforge to read
        try:
            data = DataSection(train=source, validation=fraction, test=fraction, labels=labels,
                               label_column=label_column)
        except ValueError:
            return  # the recipe schema refused it already (a RecipeError in real use)
        try:
            check_data(data, TEXT_CLS if classification else TEXT_REG)
            load_data(data, TEXT_CLS if classification else TEXT_REG, seed)
        except TuneforgeError:
            pass


@SETTINGS
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | st.sampled_from(
    ["a,b\n1", "text,label\n\"unclosed,1\n", "text\tlabel\nx\ty\n", "{\"text\": 1}\n[1,2]\n", "\x00\x01,\n"]),
       suffix=st.sampled_from([".csv", ".tsv", ".jsonl", ".json", ".parquet"]), latin1=st.booleans())
def test_random_file_contents_read_or_fail_cleanly(text, suffix, latin1):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"f{suffix}"
        path.write_bytes(text.encode("latin-1", errors="replace") if latin1 else text.encode("utf-8"))
        try:
            read_table(path)
        except TuneforgeError:
            pass


scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                    st.text(alphabet=string.printable, max_size=12))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(string.ascii_lowercase + "_", max_size=10), inner, max_size=3), max_leaves=6)
SECTIONS = {
    "task": st.sampled_from(["text-classification", "image-regression", "nope"]) | scalars,
    "model": st.fixed_dictionaries({"name": st.sampled_from(["tiny", "minilm-l6", "timm:resnet18", "a/b", "../x",
                                                             "timm:nope", ""]) | scalars},
                                   optional={"weights": scalars, "dropout": scalars, "trust_remote_code": scalars}),
    "data": st.fixed_dictionaries({"train": st.sampled_from([str(CORPUS / "good.csv"), str(CORPUS), "tweets",
                                                             "tweets:nope", "missing.csv"]) | scalars},
                                  optional={"validation": scalars, "test": scalars, "labels": values,
                                            "label_column": scalars, "text_column": scalars, "root": scalars,
                                            "max_length": scalars, "clean": values}),
    "strategy": st.fixed_dictionaries({"name": st.sampled_from(["full", "freeze", "lora", "gradual-unfreezing",
                                                                "x"])}, optional={"top_blocks": scalars,
                                                                                  "rank": scalars, "r": scalars}),
    "optimizer": st.dictionaries(st.sampled_from(["name", "lr", "betas", "momentum", "lrr"]), values, max_size=3),
    "train": st.dictionaries(st.sampled_from(["epochs", "batch_size", "max_steps", "seed", "nonfinite",
                                              "early_stopping", "precision"]), values, max_size=3),
    "evaluate": values, "output": values, "regularisers": values, "extra": values,
}


REQUIRED = ("task", "model", "data")
recipes = st.fixed_dictionaries({k: SECTIONS[k] for k in REQUIRED},
                                optional={k: v for k, v in SECTIONS.items() if k not in REQUIRED}) | \
    st.fixed_dictionaries({}, optional=SECTIONS)


@SETTINGS
@given(tree=recipes,
       overrides=st.lists(st.text(string.printable, max_size=20), max_size=2))
def test_random_recipes_validate_or_fail_cleanly(tree, overrides, bert_dir):
    if isinstance(tree.get("model"), dict) and tree["model"].get("name") == "tiny":
        tree["model"]["name"] = str(bert_dir)
    for call in (lambda: all_problems(tree, overrides), lambda: load_recipe(tree, overrides)):
        try:
            result = call()
        except TuneforgeError:
            continue
        if isinstance(result, list):
            assert all(isinstance(p, str) and p for p in result)


def test_in_memory_oddities_fail_cleanly():
    for source in (42, [1, 2], {"a": [1], "b": [1, 2]}, [], {}, pd.DataFrame(), float("nan"), b"text,label"):
        try:
            as_table(source)
        except TuneforgeError:
            pass
