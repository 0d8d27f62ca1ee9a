"""Every malformed input in ``tests/corpus/`` gives exit code 2 and one clear message, never a traceback.

Each case is a recipe in ``tests/corpus/recipes/``; its first line says what the message must
contain (``# expect: ...``) and an optional second line gives the command (``# args: ...``,
default ``run @RECIPE@ --quiet``). ``@NAME@`` placeholders are filled in here: the corpus
data files, tiny models built for the test, run folders to resume. For each case the test
checks: exit code 2, the expected text in the single ``error:`` message, no traceback, no new
run folder, and an existing run folder (and any run folder given to ``--resume``) byte-for-byte
untouched. A few cases also run as real processes.
"""
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch

from tuneforge.cli import main
from tuneforge.training.checkpoint import save_checkpoint
from tuneforge.training.state import TrainState

from helpers.tiny import tiny_vit, tiny_wav2vec2
from reliability.conftest import cli_process

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
CASES = sorted(p.stem for p in (CORPUS / "recipes").glob("*.yaml"))
SUBPROCESS_CASES = ["truncated_image", "resume_foreign_checkpoint"]


def read_case(name: str) -> tuple[str, str, str]:
    text = (CORPUS / "recipes" / f"{name}.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    expect = lines[0].removeprefix("# expect: ")
    args = lines[1].removeprefix("# args: ") if lines[1:] and lines[1].startswith("# args:") else \
        "run @RECIPE@ --quiet"
    return expect, args, text


def folder_digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def models(bert_dir, tmp_path_factory):
    """Placeholders for models: tiny BERT and ViT, a folder without weights, a mismatched tokenizer,
    a folder whose config asks for remote code, and a pickled 'weights' file that would run code."""
    from transformers import BertTokenizerFast

    root = tmp_path_factory.mktemp("corpus-models")
    no_weights = root / "no-weights"
    no_weights.mkdir()
    shutil.copy(bert_dir / "config.json", no_weights / "config.json")
    mismatch = root / "mismatch"
    shutil.copytree(bert_dir, mismatch)
    vocab = (bert_dir / "vocab.txt").read_text().split() + [f"extra{i}" for i in range(500)]
    BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}).save_pretrained(mismatch)
    pickled = root / "weights.pt"
    pickled.write_bytes(_pickle_that_runs_code())
    return {"@BERT@": str(bert_dir), "@VIT@": str(tiny_vit(root / "vit")), "@NOWEIGHTS@": str(no_weights),
            "@WAV2VEC2@": str(tiny_wav2vec2(root / "wav2vec2")),
            "@MISMATCH@": str(mismatch), "@REMOTE@": str(CORPUS / "models" / "remote_code"),
            "@PICKLE@": str(pickled), "@FILES@": str(CORPUS / "files")}


def _pickle_that_runs_code() -> bytes:
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("this pickle ran code",))
    return pickle.dumps({"state_dict": Evil()})


def _run_folders(root: Path, recipe_text: str, bert_dir) -> dict:
    """A completed run, a run killed before its first checkpoint, and one whose checkpoint is another model's."""
    folders = {}
    for key, state in (("@RUN_COMPLETED@", "completed"), ("@RUN_NO_CHECKPOINT@", "running"),
                       ("@RUN_FOREIGN@", "failed")):
        d = root / key.strip("@").lower()
        d.mkdir(parents=True)
        (d / "recipe.yaml").write_text(recipe_text)
        (d / "status.json").write_text(json.dumps({"state": state}))
        folders[key] = str(d)
    other = torch.nn.Linear(3, 2)
    save_checkpoint(Path(folders["@RUN_FOREIGN@"]) / "checkpoints", other,
                    torch.optim.SGD(other.parameters(), lr=0.1), TrainState(step=3), keep=1)
    return folders


def fill(text: str, values: dict) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    return text


@pytest.fixture
def case_setup(models, tmp_path, bert_dir):
    def setup(name):
        expect, args, text = read_case(name)
        out = tmp_path / "runs"
        existing = out / "existing-run"
        existing.mkdir(parents=True)
        (existing / "metrics.json").write_text('{"test": {"accuracy": 1.0}}')
        values = {**models, "@OUT@": str(out)}
        good = fill(read_case("unknown_key")[2], values).replace("batchsize", "batch_size")
        values.update(_run_folders(tmp_path / "resume", good, bert_dir))
        recipe = tmp_path / f"{name}.yaml"
        recipe.write_text(fill(text, values), encoding="utf-8")
        values["@RECIPE@"] = str(recipe)
        argv = [fill(a, values) for a in args.split()]
        watched = [existing] + [Path(a) for a in argv if Path(a).is_dir() and str(tmp_path) in a]
        return expect, argv, out, {w: folder_digest(w) for w in watched}
    return setup


def one_message(err: str) -> bool:
    """One ``error: ...`` message (possibly listing several problems) and no traceback; a command-line
    usage mistake may put click's usage line first."""
    lines = [line for line in err.splitlines() if line.strip()]
    if lines and lines[0].startswith("Usage: tuneforge"):
        lines = lines[1:]
    starts = [line for line in lines if line.startswith("error:")]
    return bool(lines) and lines[0].startswith("error:") and len(starts) == 1 and "Traceback" not in err


def check_untouched(out: Path, before: dict) -> None:
    assert sorted(p.name for p in out.iterdir()) == ["existing-run"], "a run folder was created"
    for folder, digest in before.items():
        assert folder_digest(folder) == digest, f"{folder} was modified"


def test_corpus_is_large_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", CASES)
def test_bad_input_gives_one_clear_message(name, case_setup, capsys, tmp_path, monkeypatch):
    marker = tmp_path / "remote-code-ran"
    monkeypatch.setenv("TUNEFORGE_REMOTE_CODE_MARKER", str(marker))
    expect, argv, out, before = case_setup(name)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert one_message(err), err
    assert expect in " ".join(err.split()), err  # rich may wrap long lines: compare with spaces collapsed
    check_untouched(out, before)
    assert not marker.exists(), "model code ran without trust_remote_code"


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_bad_input_in_a_real_process(name, case_setup):
    expect, argv, out, before = case_setup(name)
    done = cli_process(argv)
    assert done.returncode == 2, done.stderr[-3000:]
    assert one_message(done.stderr), done.stderr[-3000:]
    assert expect in " ".join(done.stderr.split())
    check_untouched(out, before)
