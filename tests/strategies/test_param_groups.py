"""Parameter groups: every parameter in one group, no weight decay on biases/norms, block order."""
import pytest

from tuneforge.models.layer_map import LayerMap
from tuneforge.strategies import STRATEGIES, build_param_groups
from tuneforge.strategies.base import Strategy
from tuneforge.errors import RecipeError
from tuneforge.recipe.schema import StrategySection

from toy import toy_model


def test_groups_cover_every_parameter_once_in_block_order():
    m = toy_model()
    groups = build_param_groups(m.net, m.layer_map)
    names = [n for g in groups for n in g.param_names]
    assert sorted(names) == sorted(n for n, _ in m.net.named_parameters())
    assert len(names) == len(set(names))
    assert [g.block for g in groups] == sorted(g.block for g in groups)
    for g in groups:
        if not g.decay:
            assert all(p.ndim <= 1 for p in g.params)
    assert groups[-1].block == m.layer_map.head_index


def test_layer_map_missing_a_parameter_is_a_bug():
    m = toy_model()
    broken = LayerMap("toy", m.layer_map.blocks[1:])
    with pytest.raises(RuntimeError, match="misses parameters"):
        build_param_groups(m.net, broken)


def test_strategies_are_registered_with_descriptions():
    d = STRATEGIES.describe()
    assert {"full", "freeze", "linear-probe"} <= set(d)
    assert all(d.values())


def test_freeze_options_are_checked():
    with pytest.raises(RecipeError, match="at most one of"):
        Strategy.from_section(StrategySection(name="freeze", top_blocks=2, freeze=["embeddings"]))
    assert Strategy.from_section(StrategySection(name="freeze")).trainable_blocks(list("abcdefgh")) == [4, 5, 6, 7]
    with pytest.raises(RecipeError, match='strategy.top_blokcs: not an option.*did you mean "top_blocks"'):
        Strategy.from_section(StrategySection(name="freeze", top_blokcs=2))
    s = Strategy.from_section(StrategySection(name="freeze", top_blocks=12))
    problems = s.check(["embeddings"] + [f"encoder.layer.{i}" for i in range(6)] + ["head"])
    assert problems and "12 blocks asked" in problems[0] and "only 7 blocks" in problems[0]


def test_freeze_plans():
    m = toy_model()
    top = Strategy.from_section(StrategySection(name="freeze", top_blocks=1))
    assert top.plan(m.layer_map, 10, 10).stages[0].trainable == [2, 3]
    pat = Strategy.from_section(StrategySection(name="freeze", freeze=["stem", "block.*"]))
    assert pat.plan(m.layer_map, 10, 10).stages[0].trainable == [3]
    lp = Strategy.from_section(StrategySection(name="linear-probe"))
    assert lp.plan(m.layer_map, 10, 10).stages[0].trainable == [3]
