"""Does the NER model card's pipeline block reproduce the entity F1 the run reported?

    python bench/ner_pipeline.py                         # trains recipes/ner-tweets-minilm.yaml (1 epoch)
    python bench/ner_pipeline.py --run runs/ner-tweets-minilm-...   # a finished token-classification run

It runs the first code block of the run's ``model/README.md`` exactly as written (from the model
folder), then calls what that block defines (``tagger``, ``word_tags``, ``entities``) on every sentence
of the run's own test split, turns the entities back into BIO tags per word, and scores them with
seqeval against the gold tags, beside the test entity F1 in the run's ``metrics.json``. For contrast it
also scores the call the docs showed before (``aggregation_strategy="simple"`` on the joined sentence,
entities mapped back to the words their characters fall in). Results go to
``bench/results/ner_pipeline.json``. This is a measurement, not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _train(out: Path, epochs: int) -> Path:
    cmd = [sys.executable, "-m", "tuneforge.cli", "run", str(REPO / "recipes" / "ner-tweets-minilm.yaml"),
           f"train.epochs={epochs}", f"output.dir={out}", "evaluate.bootstrap=200"]
    subprocess.run(cmd, check=True)
    return max(out.glob("ner-tweets-minilm-*"), key=lambda p: p.stat().st_mtime)


def _first_block(card: Path) -> str:
    text = card.read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text[text.index("## Loading"):], re.S)[0]


def _tags_of(words, spans) -> list[str]:
    tags = ["O"] * len(words)
    for kind, a, b, _ in spans:
        tags[a] = f"B-{kind}"
        for i in range(a + 1, b + 1):
            tags[i] = f"I-{kind}"
    return tags


def _simple_call_tags(tagger_model, words) -> list[str]:
    """The former documented call: aggregation_strategy="simple" on the joined text, spans mapped to words."""
    text = " ".join(words)
    starts, at = [], 0
    for w in words:
        starts.append(at)
        at += len(w) + 1
    tags = ["O"] * len(words)
    for e in tagger_model(text):
        inside = [i for i, s in enumerate(starts) if s < e["end"] and s + len(words[i]) > e["start"]]
        for j, i in enumerate(inside):
            tags[i] = ("B-" if j == 0 else "I-") + e["entity_group"]
    return tags


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("/tmp/tuneforge-bench-ner-pipeline"))
    ap.add_argument("--epochs", type=int, default=1)
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from seqeval.metrics import f1_score
    from transformers import pipeline

    from tuneforge.artefacts.evaluate_run import load_finished_run
    from tuneforge.data import load_data

    run = args.run or _train(args.out, args.epochs)
    recipe, task, model = load_finished_run(run)
    split = load_data(recipe.data, task, recipe.train.seed).test
    names = model.label_names
    sentences = [list(s) for s in split.inputs]
    gold = [[names[int(t)] for t in row] for row in split.targets]
    reported = json.loads((run / "metrics.json").read_text())["test"]

    folder = run / "model"
    namespace: dict = {"__name__": "__card__"}
    here = os.getcwd()
    os.chdir(folder)
    try:
        exec(compile(_first_block(folder / "README.md"), "model/README.md", "exec"), namespace)
        pieces = namespace["tagger"](sentences, is_split_into_words=True)
        card_tags = [_tags_of(w, namespace["entities"](w, namespace["word_tags"](w, p)))
                     for w, p in zip(sentences, pieces)]
        simple = pipeline("token-classification", model=".", aggregation_strategy="simple")
        simple_tags = [_simple_call_tags(simple, w) for w in sentences]
    finally:
        os.chdir(here)
    result = {"run": str(run), "test_sentences": len(sentences),
              "reported_entity_f1": reported.get("entity_f1", reported.get("f1")),
              "card_block_entity_f1": f1_score(gold, card_tags),
              "former_simple_call_entity_f1": f1_score(gold, simple_tags)}
    print(json.dumps(result, indent=2))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "ner_pipeline.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
