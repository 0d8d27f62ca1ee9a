import pytest

from tuneforge.training.schedules import SCHEDULERS, warmup_steps


@pytest.mark.parametrize("name", SCHEDULERS.names())
def test_schedules_warm_up_and_stay_in_range(name):
    f = SCHEDULERS.get(name)
    values = [f(s, 100, 10) for s in range(100)]
    assert all(0.0 <= v <= 1.0 + 1e-9 for v in values)
    assert values[0] < values[9]          # rising during warmup
    assert max(values) == pytest.approx(1.0, abs=0.05)


def test_linear_and_cosine_end_near_zero():
    assert SCHEDULERS.get("linear")(99, 100, 0) == pytest.approx(0.01)
    assert SCHEDULERS.get("cosine")(100, 100, 0) == pytest.approx(0.0)
    assert SCHEDULERS.get("constant")(99, 100, 0) == 1.0


def test_warmup_fraction_or_steps():
    assert warmup_steps(0.1, 200) == 20
    assert warmup_steps(15, 200) == 15
