#!/usr/bin/env bash
# The five shipped recipes (demo, NER, causal LM, continual, regression) at a small size on fixed seeds,
# with the code of checkout TREE, into OUT: run it on two checkouts, then
#   python bench/compare_metrics.py OUT_BEFORE OUT_AFTER
# to show that a change that should not change results changed none (every number of every metrics.json).
# usage: bench/same_numbers.sh TREE OUT   (TREE: a checkout, e.g. from `git worktree add`; the .venv of this one)
TREE=$(cd "$1" && pwd); OUT=$(mkdir -p "$2" && cd "$2" && pwd)
PY=${PY:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python}
export HF_HUB_OFFLINE=1 PYTHONPATH=$TREE/src TOKENIZERS_PARALLELISM=false
run() { name=$1; shift; $PY -c 'import sys; from tuneforge.cli import entry; sys.argv[0]="tuneforge"; entry()' run "$@" output.dir=$OUT/$name output.save_model=true -q > $OUT/$name.log 2>&1; echo "$name rc=$?"; }
cd $TREE
run demo recipes/demo.yaml data.max_train_samples=400 data.max_eval_samples=200 train.epochs=1
run ner recipes/ner-tweets-minilm.yaml data.max_train_samples=300 data.max_eval_samples=150 train.epochs=1
run lm recipes/smollm2-tweet-instructions.yaml data.max_train_samples=48 data.max_eval_samples=16
run continual recipes/continual-fashion-mnist.yaml data.max_train_samples=200 data.max_eval_samples=100 train.epochs=1
run regression recipes/tweets-confidence-regression.yaml data.max_train_samples=400 data.max_eval_samples=200 train.epochs=1
