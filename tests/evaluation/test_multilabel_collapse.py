"""The collapse check covers multi-label runs: one label set predicted for (almost) every row."""
import numpy as np

from tuneforge.evaluation.diagnostics import RunFacts, check_collapsed


def _labels(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 3)) < [0.6, 0.3, 0.2]).astype(np.float32)


def test_one_label_set_for_every_row_is_a_collapse():
    y = _labels()
    logits = np.tile([2.0, -2.0, -2.0], (len(y), 1))       # always {a}: the label priors
    d = check_collapsed(RunFacts(kind="multilabel", metric="micro_f1", y_true=y, outputs=logits,
                                 label_names=["a", "b", "c"]))
    assert d is not None and d.code == "collapsed" and "label set {a}" in d.message


def test_a_model_that_follows_the_labels_is_not_collapsed():
    y = _labels()
    logits = np.where(y > 0, 2.0, -2.0)
    logits[:5] = -logits[:5]                                # a few mistakes
    assert check_collapsed(RunFacts(kind="multilabel", metric="micro_f1", y_true=y, outputs=logits)) is None


def test_data_whose_rows_all_have_the_same_labels_is_not_a_collapse():
    y = np.tile([1.0, 0.0, 0.0], (50, 1))
    logits = np.tile([2.0, -2.0, -2.0], (50, 1))
    assert check_collapsed(RunFacts(kind="multilabel", metric="micro_f1", y_true=y, outputs=logits)) is None
