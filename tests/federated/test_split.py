"""Client shares of the training rows: seeded, every row exactly once, skew growing as alpha falls."""
import numpy as np
import pytest

from tuneforge.errors import RecipeError
from tuneforge.federated.split import class_counts, label_skew, parse_split, partition

LABELS = np.repeat(np.arange(4), 150)  # 600 rows, 4 balanced classes


@pytest.mark.parametrize("spec", ["iid", "dirichlet:0.3", "dirichlet:10"])
def test_every_row_lands_in_exactly_one_client_and_the_seed_fixes_the_split(spec):
    parts = partition(LABELS, 5, spec, seed=3)
    rows = np.concatenate(parts)
    assert len(parts) == 5 and all(len(p) > 0 for p in parts)
    assert np.array_equal(np.sort(rows), np.arange(len(LABELS)))
    again = partition(LABELS, 5, spec, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))
    other = partition(LABELS, 5, spec, seed=4)
    assert not all(np.array_equal(a, b) for a, b in zip(parts, other))


def test_iid_shares_are_near_equal_and_label_skew_grows_as_alpha_falls():
    iid = partition(LABELS, 4, "iid", seed=0)
    assert max(map(len, iid)) - min(map(len, iid)) <= 1
    skews = {alpha: np.mean([label_skew(LABELS, partition(LABELS, 4, f"dirichlet:{alpha}", seed=s))
                             for s in range(5)]) for alpha in (0.1, 1.0, 100.0)}
    assert skews[0.1] > skews[1.0] > skews[100.0]
    assert skews[100.0] < 0.1 and skews[0.1] > 0.4
    assert label_skew(LABELS, iid) < 0.1


def test_class_counts_name_every_class_per_client():
    parts = [np.array([0, 1, 150]), np.array([300, 450])]
    assert class_counts(LABELS, parts, ["a", "b", "c", "d"]) == [{"a": 2, "b": 1, "c": 0, "d": 0},
                                                              {"a": 0, "b": 0, "c": 1, "d": 1}]


@pytest.mark.parametrize("spec, message", [("zipf", "unknown split"), ("dirichlet", "dirichlet:ALPHA with ALPHA > 0"),
                                           ("dirichlet:-1", "ALPHA > 0"), ("dirichlet:abc", "ALPHA > 0")])
def test_bad_split_specs_are_refused_with_the_fix(spec, message):
    with pytest.raises(RecipeError, match=message):
        parse_split(spec)


def test_more_clients_than_rows_is_refused():
    with pytest.raises(RecipeError, match="only 3 rows"):
        partition(np.array([0, 1, 1]), 4, "iid", seed=0)
