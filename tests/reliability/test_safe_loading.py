"""Safe loading: weights only through safetensors or ``torch.load(weights_only=True)``, model code only
with ``model.trust_remote_code: true``, image paths relative to their table and kept inside ``data.root``."""
import ast
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tuneforge.data import load_data
from tuneforge.errors import DataError, ModelError
from tuneforge.models.hf_loading import refuse_remote_code
from tuneforge.models.weights import read_state_dict
from tuneforge.recipe.schema import DataSection
from tuneforge.tasks import TASKS

IMAGE_CLS = TASKS.get("image-classification")


SRC = Path(__file__).resolve().parents[2] / "src" / "tuneforge"
REMOTE = Path(__file__).resolve().parents[1] / "corpus" / "models" / "remote_code"


def source_lines():
    for path in sorted(SRC.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            yield f"{path.relative_to(SRC)}:{number}", line.split("#")[0]


def test_every_torch_load_is_weights_only_and_no_pickle_or_forced_remote_code():
    torch_loads = [(where, line) for where, line in source_lines() if "torch.load(" in line]
    assert torch_loads, "expected the checkpoint and weights readers to use torch.load"
    assert all("weights_only=True" in line for _, line in torch_loads), torch_loads
    for where, line in source_lines():
        assert not re.search(r"\bpickle\.loads?\(|\bdill\.|\bjoblib\.load\(", line), where
    for path in sorted(SRC.rglob("*.py")):  # a call that forces remote code (a model card's snippet text may show one)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            forced = [k for k in getattr(node, "keywords", []) if isinstance(node, ast.Call)
                      and k.arg == "trust_remote_code" and isinstance(k.value, ast.Constant) and k.value.value is True]
            assert not forced, f"{path.relative_to(SRC)}:{node.lineno} passes trust_remote_code"


class RunsCode:
    def __reduce__(self):
        return (print, ("this pickle ran code",))


def test_pickled_weights_are_refused_without_running_them(tmp_path, capsys):
    path = tmp_path / "weights.pth"
    path.write_bytes(pickle.dumps({"state_dict": RunsCode()}))
    with pytest.raises(ModelError, match="could not be read as plain tensors"):
        read_state_dict(path)
    assert "this pickle ran code" not in capsys.readouterr().out


def test_remote_code_needs_the_recipe_to_trust_it(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    monkeypatch.setenv("TUNEFORGE_REMOTE_CODE_MARKER", str(marker))
    with pytest.raises(ModelError, match=r"model.trust_remote_code: true.*"):
        refuse_remote_code(REMOTE / "config.json", "my-model", trust_remote_code=False)
    refuse_remote_code(REMOTE / "config.json", "my-model", trust_remote_code=True)  # allowed: no error
    assert not marker.exists()  # refusing reads JSON only, it never imports the code


@pytest.fixture
def image_table(tmp_path):
    """data/table.csv with paths relative to data/: imgs/<class>/<i>.png, plus one image outside data/."""
    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    rows = []
    for cls in ("a", "b"):
        (data / "imgs" / cls).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(data / "imgs" / cls / f"{i}.png")
            rows.append((f"imgs/{cls}/{i}.png", cls))
    Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "outside.png")
    pd.DataFrame(rows, columns=["image", "label"]).to_csv(data / "table.csv", index=False)
    return data


def test_image_paths_are_relative_to_the_table_not_the_working_directory(image_table, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the table's folder
    bundle = load_data(DataSection(train=str(image_table / "table.csv"), validation=None, test=0.4,
                                   root=str(image_table)), IMAGE_CLS, seed=0)
    assert bundle.sizes()["train"] + bundle.sizes()["test"] == 10


@pytest.mark.parametrize("escape", ["../outside.png", "imgs/../../outside.png", "{tmp}/outside.png"])
def test_image_paths_cannot_escape_data_root(image_table, tmp_path, escape):
    df = pd.read_csv(image_table / "table.csv")
    df.loc[3, "image"] = escape.format(tmp=tmp_path)
    df.to_csv(image_table / "table.csv", index=False)
    section = DataSection(train=str(image_table / "table.csv"), validation=None, test=0.4, root=str(image_table))
    with pytest.raises(DataError, match=r"row 4 \(line 5 of .*table.csv\): image path .* outside data.root"):
        load_data(section, IMAGE_CLS, seed=0)
    # without data.root the same table loads: the root is what forbids escaping
    load_data(section.model_copy(update={"root": None}), IMAGE_CLS, seed=0)
