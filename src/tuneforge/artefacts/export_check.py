"""``tuneforge export RUN --check``: load every artefact of a run folder as its card says, and compare.

Each artefact a finished run can hold is loaded the way its card (or its format) says, run on the
first rows of the run's test split (else validation, :mod:`.check_rows`) and compared with
tuneforge; one line each:

* ``tuneforge (model/)``: the saved model as tuneforge reloads it, against the outputs the run itself
  recorded on the test split (``test_outputs.npz``). This is what catches a weight file changed
  after the run: every other artefact is compared with this model.
* ``model/ (transformers)``: the Auto class of the folder's task (``tuneforge.json``), trusting the
  folder's code only when it is tuneforge's own pooling file (:mod:`.artefact_loaders`, where every
  artefact's loading lives);
  after prompt learning, the base plus ``model/prompt`` through peft. ``model/ (timm)``: timm's
  ``local-dir:`` loader.
* ``adapter/``: its base model (``adapter_config.json``'s, else the recipe's model as found on this
  machine) plus the adapter through peft.
* every ONNX file in ``model/`` (and those ``onnx.json`` lists) through onnxruntime.
* ``sentence-transformers/``: ``SentenceTransformer(folder).encode`` against the features the head
  reads (normalised when the folder normalises).

Measures: the largest absolute difference of the outputs (logits; per-example summed NLL for a causal
LM; embeddings), against a tolerance relative to their scale (``tolerance * max(1, max |reference|)``):
1e-4 for float32 artefacts, 0.1 for a quantised ONNX file (``QuantizeLinear``/``MatMulInteger``
nodes: int8 moves logits by a few percent), 1e-5 for embeddings; the recorded outputs of a run trained
in bf16/fp16 get 5e-2 (they came from autocast). Each line says ``agrees``, ``differs by X
(tolerance T)`` or ``could not load (why)``.

Exit codes: 0 when every artefact agrees; 3 when any differs or could not be loaded or run; 2 for a
folder that is not a finished run (one message). 1 stays what it is for every command: a bug.

Example::

    checks = check_artefacts(Path("runs/tweets-20261204-031500"))
    [c.line() for c in checks]   # ["tuneforge (model/): agrees (max abs diff 0 ...)", ...]
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from ..analysis.extras import load_outputs
from ..errors import TuneforgeError
from ..evaluation import predict_outputs
from ..models.causal_lm import token_nll
from ..models.export import TUNEFORGE_FILE
from ..models.sentence_embedding import (ST_FOLDER, ST_TOLERANCE, embeddings, features_as_embedded,
                                         load_sentence_transformers)
from ..terminal import print_path
from .artefact_loaders import is_quantised, load_adapter_folder, load_model_folder, onnx_files, run_onnx, st_normalizes
from .card_usage import is_language_model
from .check_rows import CheckRows, first_rows
from .evaluate_run import load_finished_run

TUNEFORGE_FILE_PATH = Path("model") / TUNEFORGE_FILE
CHECK_FAILED = 3          # exit code when an artefact differs or cannot be loaded
FLOAT_TOLERANCE = 1e-4    # float32 artefacts against tuneforge (relative to the outputs' scale above 1)
QUANTISED_TOLERANCE = 0.1  # an int8 ONNX file: dynamic quantisation moves logits by a few percent
AUTOCAST_TOLERANCE = 5e-2  # recorded outputs of a run evaluated under bf16/fp16 autocast
_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "pixel_values", "input_values", "input_features")


@dataclass
class ArtefactCheck:
    """One artefact's verdict: ``status`` agrees | differs | could not load."""

    artefact: str
    status: str
    measure: str = "max abs diff"
    value: Optional[float] = None
    tolerance: Optional[float] = None
    why: str = ""

    @property
    def agrees(self) -> bool:
        return self.status == "agrees"

    def line(self) -> str:
        if self.status == "could not load":
            return f"{self.artefact}: could not load ({self.why})"
        verdict = "agrees" if self.agrees else f"differs by {self.value:.3g}"
        detail = f"{self.measure} {self.value:.3g}, " if self.agrees else f"{self.measure}, "
        return f"{self.artefact}: {verdict} ({detail}tolerance {self.tolerance:.3g}{self.why})"

    def to_dict(self) -> dict:
        return {"artefact": self.artefact, "status": self.status, "measure": self.measure, "value": self.value,
                "tolerance": self.tolerance, "why": self.why}


def check_run(run_dir, console=None) -> int:
    """Print one line per artefact of ``run_dir``; the exit code (0 all agree, 3 otherwise)."""
    from rich.console import Console
    from rich.markup import escape

    console = console or Console()
    checks = check_artefacts(run_dir)
    for c in checks:
        colour = "green" if c.agrees else "red"
        console.print(f"[{colour}]{escape(c.line())}[/{colour}]", highlight=False, soft_wrap=True)
    bad = [c for c in checks if not c.agrees]
    console.print(f"{len(checks) - len(bad)} of {len(checks)} artefacts agree" + ("" if not bad else
                  f"; {len(bad)} do not"), highlight=False)
    print_path(console, "checked", Path(run_dir))
    return 0 if not bad else CHECK_FAILED


def check_artefacts(run_dir) -> list[ArtefactCheck]:
    """Every artefact of ``run_dir`` loaded as its card says and compared (see the module docstring)."""
    run_dir = Path(run_dir)
    if not (run_dir / "recipe.yaml").is_file() or not (run_dir / TUNEFORGE_FILE_PATH).is_file():
        load_finished_run(run_dir)   # a folder that is not a run: its one message (exit 2)
        raise TuneforgeError(f"{run_dir} has no model/{TUNEFORGE_FILE}, so its model was not saved by tuneforge")
    try:
        recipe, task, model = load_finished_run(run_dir)
    except Exception as e:   # a damaged model/: nothing else can be compared with it
        return [ArtefactCheck("tuneforge (model/)", "could not load", why=_first_line(e) + "; the other artefacts "
                              "are compared with this model, so none was checked")]
    model = model.cpu().eval()
    folder = run_dir / "model"
    meta = json.loads((folder / TUNEFORGE_FILE).read_text(encoding="utf-8"))
    rows = first_rows(recipe, task, model, what="tuneforge export --check")
    language_model = is_language_model(meta)
    with torch.no_grad():
        reference = model(rows.batch).float().cpu().numpy()

    def outputs_of(net) -> np.ndarray:   # the folder's own forward, in tuneforge's output format
        kwargs = {k: rows.batch[k] for k in _INPUTS if k in rows.batch}
        if meta.get("kind") == "timm":
            return net(rows.batch["pixel_values"]).float().numpy()
        logits = net(**kwargs, **model.forward_kwargs).logits.float()
        if not language_model:
            return logits.numpy()
        # peft's prompt tuning puts its virtual tokens first: their positions predict nothing of the text
        return token_nll(logits[:, -rows.batch["input_ids"].shape[1]:], rows.batch["targets"]).numpy()

    checks = [_recorded(run_dir, model, rows, meta, recipe)]
    how = "timm" if meta.get("kind") == "timm" else "transformers" + (" + peft prompt" if meta.get("prompt_adapter")
                                                                      else "")
    checks.append(_check(f"model/ ({how})", reference,
                         lambda: outputs_of(load_model_folder(folder, meta))))
    adapter = run_dir / "adapter"
    if (adapter / "adapter_config.json").is_file():
        checks.append(_check("adapter/ (peft)", reference,
                             lambda: outputs_of(load_adapter_folder(adapter, meta, recipe.model))))
    for onnx_file in onnx_files(folder):
        quantised = is_quantised(onnx_file)
        checks.append(_check(f"model/{onnx_file.name} (onnxruntime{', quantised' if quantised else ''})", reference,
                             lambda f=onnx_file: run_onnx(f, rows.batch),
                             QUANTISED_TOLERANCE if quantised else FLOAT_TOLERANCE,
                             note=_same_argmax if quantised else None))
    st = run_dir / ST_FOLDER
    if st.is_dir():
        normalize = st_normalizes(st)
        with torch.no_grad():
            features = features_as_embedded(model.features(rows.batch).float().cpu(), normalize).numpy()
        checks.append(_check(f"{ST_FOLDER}/ (SentenceTransformer.encode)", features,
                             lambda: embeddings(load_sentence_transformers(st),
                                                [str(t) for t in rows.inputs]).numpy(), ST_TOLERANCE,
                             measure="max abs diff of embeddings"))
    return checks


# -- comparing -------------------------------------------------------------------------------------

def _check(name: str, reference: np.ndarray, run: Callable[[], np.ndarray], tolerance: float = FLOAT_TOLERANCE,
           measure: str = "max abs diff", note: Optional[Callable[[np.ndarray, np.ndarray], str]] = None
           ) -> ArtefactCheck:
    try:
        with torch.no_grad():
            got = np.asarray(run(), dtype=np.float32)
    except Exception as e:   # any loader's failure is this artefact's verdict, in its own words
        return ArtefactCheck(name, "could not load", why=_first_line(e))
    return _compare(name, got, reference, tolerance, measure, note(got, reference) if note else "")


def _same_argmax(got: np.ndarray, reference: np.ndarray) -> str:
    """How many rows keep tuneforge's top class (a quantised file's logits move; its decisions should not)."""
    if got.shape != reference.shape or reference.ndim != 2 or reference.shape[1] < 2:
        return ""
    same = int((got.argmax(-1) == reference.argmax(-1)).sum())
    return f"; same top class on {same} of {len(reference)} rows"


def _compare(name: str, got: np.ndarray, reference: np.ndarray, tolerance: float, measure: str,
             why: str = "") -> ArtefactCheck:
    reference = np.asarray(reference, dtype=np.float32)
    if got.shape != reference.shape and got.size == reference.size:
        got = got.reshape(reference.shape)   # one output per example: [N] against [N, 1]
    if got.shape != reference.shape:
        return ArtefactCheck(name, "differs", measure, float("inf"), tolerance,
                             f"; outputs of shape {list(got.shape)}, tuneforge's {list(reference.shape)}")
    padding = np.isnan(got) & np.isnan(reference)   # per-word outputs are padded with NaN on both sides
    got, reference = np.where(padding, 0.0, got), np.where(padding, 0.0, reference)
    gap = np.abs(got - reference)
    diff = float(np.nan_to_num(gap, nan=np.inf).max()) if got.size else 0.0   # NaN on one side only: differs
    limit = tolerance * max(1.0, float(np.nanmax(np.abs(reference))) if reference.size else 1.0)
    return ArtefactCheck(name, "agrees" if diff <= limit else "differs", measure, diff, limit, why)


def _recorded(run_dir: Path, model, rows: CheckRows, meta: dict, recipe) -> ArtefactCheck:
    """tuneforge's reloaded model against the outputs the run recorded (test split), or itself when none were."""
    name = "tuneforge (model/)"
    saved = load_outputs(run_dir) if rows.split_name == "test" else None
    try:
        got = predict_outputs(model, rows.encoded, recipe.evaluate.batch_size, "cpu", rows=rows.rows)
    except Exception as e:
        return ArtefactCheck(name, "could not load", why=_first_line(e))
    if saved is None:
        return ArtefactCheck(name, "agrees", "max abs diff", 0.0, FLOAT_TOLERANCE,
                             "; the run recorded no test outputs: the other artefacts are compared with this model")
    recorded = saved[0][:len(rows.rows)]
    got, recorded = _common(np.asarray(got, dtype=np.float32), recorded)
    precision = str(meta.get("precision") or _precision(run_dir))
    tolerance = FLOAT_TOLERANCE if precision in ("fp32", "None", "") else AUTOCAST_TOLERANCE
    return _compare(name, got, recorded, tolerance, "max abs diff from the run's recorded test outputs")


def _common(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-token outputs padded to another width: compared over the positions both have."""
    if a.ndim == b.ndim and a.ndim >= 2 and a.shape != b.shape and a.shape[0] == b.shape[0]:
        cut = tuple(slice(0, min(x, y)) for x, y in zip(a.shape, b.shape))
        return a[cut], b[cut]
    return a, b


def _precision(run_dir: Path) -> str:
    try:
        return str(json.loads((run_dir / "metrics.json").read_text(encoding="utf-8")).get("precision") or "")
    except (OSError, ValueError):
        return ""


def _first_line(e: Exception) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
