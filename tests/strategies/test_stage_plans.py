"""Every strategy on a tiny BERT, a tiny ViT and a tiny timm CNN: in each stage exactly the planned
parameters change (the others stay bit-identical), each group gets the learning rate the strategy
promises, and BatchNorm statistics of frozen blocks stay as they were."""
import pytest
import torch

import kit
from tuneforge.strategies.param_groups import is_no_decay

LR = 1e-2


def _every(head):
    return list(range(head + 1))


# strategy -> (options, max_steps(head), stages(head): [(blocks, {block: lr scale})], parameter filter)
CASES = {
    "gradual": ({"name": "gradual-unfreezing", "steps_per_stage": 1}, lambda h: h + 2,
                lambda h: [(list(range(h - k, h + 1)), {}) for k in range(h + 1)], None),
    "gradual+decay": ({"name": "gradual-unfreezing", "steps_per_stage": 2, "blocks": 2, "discriminative_decay": 0.5},
                      lambda h: 6, lambda h: [(list(range(h - k, h + 1)), {b: 0.5 ** (h - b) for b in range(h + 1)})
                                              for k in range(3)], None),
    "layer-wise": ({"name": "layer-wise", "steps_per_stage": 1}, lambda h: h + 2,
                   lambda h: [([h], {})] + [([h - k], {}) for k in range(1, h + 1)] + [(_every(h), {})], None),
    "lp-ft": ({"name": "lp-ft", "probe_fraction": 0.5, "ft_lr_scale": 0.1}, lambda h: 4,
              lambda h: [([h], {}), (_every(h), {b: 0.1 for b in range(h + 1)})], None),
    "discriminative": ({"name": "discriminative", "decay": 0.5}, lambda h: 2,
                       lambda h: [(_every(h), {b: 0.5 ** (h - b) for b in range(h + 1)})], None),
    "discriminative-range": ({"name": "discriminative", "lr_range": [0.01, 1.0]}, lambda h: 2,
                             lambda h: [(_every(h), {b: 0.01 * 100 ** (b / h) for b in range(h + 1)})], None),
    "bitfit": ({"name": "bitfit"}, lambda h: 3, lambda h: [(_every(h), {})], "bitfit"),
}


def _trains(model, name, param, blocks, how) -> bool:
    block = model.layer_map.block_of()[name]
    if block not in blocks:
        return False
    if how == "bitfit":
        return block == model.layer_map.head_index or is_no_decay(name, param)
    return True


def _run(tiny_models, family, case):
    options, steps, stages, how = CASES[case]
    # a random head: a solved one can fit these tiny separable sets so well that a block's gradient
    # underflows to zero in one step (test_solved_head.py covers solved heads)
    options = {**options, "warm_head": False}
    model = kit.load(tiny_models, family)
    head = model.layer_map.head_index
    tr, _ = kit.trainer(model, options, **{"train.max_steps": steps(head), "train.epochs": 10})
    spy = kit.StageSpy(model, [s.start_step for s in tr.plan.stages])
    tr.callbacks.callbacks.append(spy)
    tr.fit()
    return model, tr, spy, stages(head), how


VARIANTS = ("gradual+decay", "discriminative-range")  # option variants: one family is enough
MATRIX = [(c, f) for c in CASES for f in kit.FAMILIES if c not in VARIANTS or f == "vit"]


@pytest.mark.parametrize("case,family", MATRIX)
def test_each_stage_changes_exactly_its_parameters_at_its_learning_rate(tiny_models, family, case):
    model, tr, spy, stages, how = _run(tiny_models, family, case)
    assert [len(s.trainable) for s in tr.plan.stages] == [len(b) for b, _ in stages]
    named = dict(model.net.named_parameters())
    for i, (blocks, _) in enumerate(stages):
        if i + 1 >= len(spy.params):
            break  # the run ended before this stage
        expected = {n for n, p in named.items() if _trains(model, n, p, blocks, how)}
        assert spy.changed_in(i) == expected, f"stage {i} ({tr.plan.stages[i].name})"
    for step, lrs in enumerate(spy.lrs):
        blocks, scales = stages[tr.plan.stage_index(step)]
        for g in tr.groups:
            trains = all(_trains(model, n, p, blocks, how) for n, p in zip(g.param_names, g.params))
            want = LR * scales.get(g.block, 1.0) if trains else 0.0
            assert lrs[g.name] == pytest.approx(want, rel=1e-6), (step, g.name)


@pytest.mark.parametrize("case", ["gradual", "layer-wise", "lp-ft"])
def test_batchnorm_statistics_of_frozen_blocks_stay(tiny_models, case):
    model, tr, spy, stages, _ = _run(tiny_models, "cnn", case)
    for i, (blocks, _) in enumerate(stages):
        if i + 1 >= len(spy.buffers):
            break
        before, after = spy.buffers[i], spy.buffers[i + 1]
        moved = kit.changed(before, after)
        trainable_modules = [m for b in blocks for m in model.layer_map.blocks[b].modules]
        assert all(any(n.startswith(m + ".") for m in trainable_modules) for n in moved), (i, moved)
        if blocks != [model.layer_map.head_index]:
            assert moved, f"stage {i}: BatchNorm statistics of the training blocks should update"


def test_bn_train_policy_lets_frozen_statistics_move(tiny_models):
    model = kit.load(tiny_models, "cnn")
    before = kit.buffers(model)
    tr, _ = kit.trainer(model, {"name": "gradual-unfreezing", "steps_per_stage": 10, "bn": "train"},
                        **{"train.max_steps": 2})
    tr.fit()
    assert "bn1.running_mean" in kit.changed(before, kit.buffers(model))  # the stem's, frozen throughout


def test_rewarm_restarts_the_schedule_at_each_stage(tiny_models):
    model = kit.load(tiny_models, "vit")
    tr, _ = kit.trainer(model, {"name": "gradual-unfreezing", "steps_per_stage": 4, "rewarm": True},
                        **{"train.max_steps": 8, "train.epochs": 2, "scheduler.name": "linear"})
    spy = kit.StageSpy(model, [0, 4])
    tr.callbacks.callbacks.append(spy)
    tr.fit()
    head = [lrs["head"] for lrs in spy.lrs]
    assert head[0] == pytest.approx(LR) and head[4] == pytest.approx(LR)  # restarted at the stage start
    assert head[0] > head[1] > head[2] > head[3] and head[4] > head[5]
    assert spy.lrs[3]["layers.1"] == 0.0 and spy.lrs[4]["layers.1"] == pytest.approx(LR)


@pytest.mark.parametrize("family,options,crash_at", [
    ("cnn", {"name": "gradual-unfreezing", "steps_per_stage": 2}, 3),
    ("bert", {"name": "layer-wise", "steps_per_stage": 2}, 4),
    ("vit", {"name": "lp-ft", "probe_fraction": 0.5}, 3),
])
def test_run_interrupted_mid_schedule_resumes_bit_identical(tiny_models, tmp_path, family, options, crash_at):
    over = {"train.max_steps": 8, "train.epochs": 2}
    full_model = kit.load(tiny_models, family)
    full, _ = kit.trainer(full_model, options, run_dir=tmp_path / "a", callbacks=[kit.Checkpointer(1)], **over)
    full.fit()
    first, _ = kit.trainer(kit.load(tiny_models, family), options, run_dir=tmp_path / "b",
                           callbacks=[kit.Checkpointer(1), kit.Crash(crash_at)], **over)
    with pytest.raises(KeyboardInterrupt):
        first.fit()
    resumed_model = kit.load(tiny_models, family)
    resumed, _ = kit.trainer(resumed_model, options, run_dir=tmp_path / "b", callbacks=[kit.Checkpointer(1)], **over)
    resumed.fit(resume=True)
    a, b = kit.params(full_model), kit.params(resumed_model)
    assert not kit.changed(a, b)
    assert kit.buffers(full_model).keys() == kit.buffers(resumed_model).keys()
    assert all(torch.equal(x, kit.buffers(resumed_model)[n]) for n, x in kit.buffers(full_model).items())
