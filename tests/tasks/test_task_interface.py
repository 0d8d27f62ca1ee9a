"""Every registered task answers the whole Task interface, and imports run one way."""
import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import tuneforge
from tuneforge.data.modalities import MODALITIES
from tuneforge.evaluation import greater_is_better
from tuneforge.recipe.schema import DataSection
from tuneforge.tasks import TASKS, Task

SRC = Path(tuneforge.__file__).parent
LABELS = {"text-classification": ["neg", "pos", "neg"], "image-classification": ["cat", "dog", "cat"],
          "text-regression": [1.0, 2.5, None], "image-regression": [0.1, 0.2, 0.3],
          "text-multilabel": [["a"], ["a", "b"], []], "image-multilabel": [["a"], ["a", "b"], []],
          "token-classification": [["B-X"], ["O", "I-X"], ["O"]]}
INPUTS = {"token-classification": [["u"], ["v", "w"], ["x"]]}   # word lists


@pytest.mark.parametrize("name", TASKS.names())
def test_each_task_answers_the_interface(name):
    task = TASKS.get(name)
    assert isinstance(task, Task) and task.name == name and task.modality in MODALITIES
    assert task.default_metric() in task.metric_names()
    greater_is_better(task.default_metric())
    for view, columns in task.describe().items():
        assert columns and set(columns) <= set(task.metric_names()), view
    assert task.probe_kind in ("softmax", "sigmoid", "ridge") and task.problem_type and task.bootstrap_unit
    import transformers
    assert task.hf_auto_class().startswith("AutoModelFor") and hasattr(transformers, task.hf_auto_class())

    from tuneforge.data.bundle import CleaningReport
    data = DataSection(train="unused.csv")
    _, column = MODALITIES.get(task.modality).column(data)
    df = pd.DataFrame({column: INPUTS.get(name, ["u", "v", "w"]), "label": LABELS.get(name, ["a", "b", "a"])})
    report = CleaningReport("mem", len(df))
    df = task.clean_targets(df, "label", data, "mem", None, report)
    names = task.label_names(df["label"], data, None)
    y = task.encode_targets(df["label"], names, False, lambda i: f"row {i}")
    assert len(y) == len(df) == report.rows_kept
    k = task.num_outputs(names)
    if np.asarray(y).dtype == object:   # one target per word: outputs [N, W, K], targets [N, W] padded with -100
        width = max(len(t) for t in y)
        outputs, targets = torch.randn(len(y), width, k), torch.full((len(y), width), -100)
        for i, t in enumerate(y):
            targets[i, :len(t)] = torch.as_tensor(t)
    else:   # positive: valid logits, and valid [NLL, tokens] rows (causal-lm)
        outputs, targets = torch.randn(len(y), k).abs() + 0.5, torch.as_tensor(np.array(y))
    loss = task.loss(outputs.requires_grad_(), targets)
    loss.backward()
    assert loss.item() > 0 and outputs.grad is not None
    rows = task.predict_rows(outputs.detach().numpy(), names)
    assert len(rows) == len(y) and all(len(task.format_prediction(r)) == 2 for r in rows)
    assert len(task.empty_targets(4)) == 4


def test_nothing_outside_tasks_asks_for_a_task_kind():
    """Generic code asks the task; the old flags (``.classification``, ``.kind`` of a task) are gone."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.parts[-2] == "tasks":
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("task.classification", "task.kind", "TASKS.get(recipe.task).kind"):
            if needle in text:
                offenders.append(f"{path.relative_to(SRC)}: {needle}")
    assert offenders == []


def _imports(path: Path) -> set[str]:
    """Absolute module names ``path`` imports (relative imports resolved), at any depth."""
    package = ".".join(("tuneforge",) + path.relative_to(SRC).with_suffix("").parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            out.add(module)
            out.update(f"{module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


@pytest.mark.parametrize("folder, forbidden", [("report", "tuneforge.runs"), ("data", "tuneforge.tasks"),
                                               ("data", "tuneforge.runs"), ("tasks", "tuneforge.runs"),
                                               ("evaluation", "tuneforge.runs")])
def test_imports_run_one_way(folder, forbidden):
    bad = [f"{p.name} imports {m}" for p in (SRC / folder).glob("*.py") for m in _imports(p)
           if m == forbidden or m.startswith(forbidden + ".")]
    assert bad == []


def test_data_check_and_load_do_not_import_each_other():
    assert not any(m.startswith("tuneforge.data.load") for m in _imports(SRC / "data" / "check.py"))
    assert not any(m.startswith("tuneforge.data.check") for m in _imports(SRC / "data" / "load.py"))
