"""The sequence metrics against hand computations, and the reservoir's promises."""
import numpy as np
import pytest
import torch

from tuneforge.continual import reservoir, sequence_metrics
from tuneforge.continual.replay import concat_splits, replay_split
from tuneforge.data.bundle import Split


def test_metrics_of_a_three_task_matrix_match_the_definitions():
    R = [[0.1, 0.2, 0.3],      # before training
         [0.9, 0.25, 0.35],    # after task 1
         [0.7, 0.8, 0.4],      # after task 2
         [0.5, 0.6, 0.95]]     # after task 3
    m = sequence_metrics(R)
    assert m["average_accuracy"] == pytest.approx((0.5 + 0.6 + 0.95) / 3)
    assert m["average_accuracy_curve"] == pytest.approx([0.9, (0.7 + 0.8) / 2, (0.5 + 0.6 + 0.95) / 3])
    assert m["bwt"] == pytest.approx(((0.5 - 0.9) + (0.6 - 0.8)) / 2)          # GEM
    assert m["fwt"] == pytest.approx(((0.25 - 0.2) + (0.4 - 0.3)) / 2)         # R[j-1][j] - R[0][j]
    # Chaudhry: task 1's best before the end is 0.9 (after task 1), task 2's is 0.8
    assert m["forgetting_per_task"] == pytest.approx([0.9 - 0.5, 0.8 - 0.6])
    assert m["forgetting"] == pytest.approx(0.3)


def test_forgetting_takes_the_best_earlier_accuracy_not_the_first():
    R = [[0, 0, 0], [0.6, 0, 0], [0.9, 0.7, 0], [0.4, 0.7, 0.8]]   # task 1 improved while task 2 trained
    m = sequence_metrics(R)
    assert m["forgetting_per_task"] == pytest.approx([0.5, 0.0])
    assert m["bwt"] == pytest.approx(((0.4 - 0.6) + (0.7 - 0.7)) / 2)


def test_one_task_has_no_transfer_and_a_wrong_shape_is_refused():
    assert sequence_metrics([[0.5], [0.9]])["bwt"] is None
    with pytest.raises(ValueError, match="3 rows"):
        sequence_metrics([[0.1, 0.2], [0.3, 0.4]])


def test_reservoir_is_seeded_sized_and_uniform():
    assert reservoir(5, 10, 0).tolist() == [0, 1, 2, 3, 4]          # a short stream is kept whole
    a, b = reservoir(1000, 50, 3), reservoir(1000, 50, 3)
    assert np.array_equal(a, b) and len(np.unique(a)) == 50 and a.max() < 1000
    assert not np.array_equal(a, reservoir(1000, 50, 4))
    # every position is kept with probability size/length: the halves of the stream share the buffer evenly
    late = np.mean([np.mean(reservoir(200, 20, s) >= 100) for s in range(300)])
    assert late == pytest.approx(0.5, abs=0.03)


def test_replay_split_draws_from_every_earlier_task():
    first = Split(torch.zeros(30, 1, 4, 4, dtype=torch.uint8), np.zeros(30, dtype=np.int64))
    second = Split(torch.ones(30, 1, 4, 4, dtype=torch.uint8), np.ones(30, dtype=np.int64))
    buffer = replay_split([first, second], 20, seed=0)
    assert len(buffer) == 20 and set(buffer.targets.tolist()) == {0, 1}
    assert torch.equal(buffer.inputs[buffer.targets == 1], torch.ones(int((buffer.targets == 1).sum()), 1, 4, 4,
                                                                      dtype=torch.uint8))
    assert replay_split([], 20, 0) is None
    texts = concat_splits([Split(["a", "b"], np.array([0, 1])), Split(["c"], np.array([2]))])
    assert texts.inputs == ["a", "b", "c"] and texts.targets.tolist() == [0, 1, 2]
