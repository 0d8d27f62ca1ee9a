"""Compare the metrics.json files of two output folders of bench/same_numbers.sh: every number that is not a
time, a memory figure or a path must be equal, and no key may appear or vanish.

    python bench/compare_metrics.py runs-before runs-after
"""
import json, sys, math
from pathlib import Path
SKIP = ("seconds", "phases", "run_dir", "peak_memory", "samples_per_second", "tokens_per_second", "per_second",
        "started", "finished", "time", "latency", "memory", "trial_dir", "path", "folder", "dir")
def flat(x, pre=""):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from flat(v, f"{pre}.{k}" if pre else str(k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from flat(v, f"{pre}[{i}]")
    else:
        yield pre, x
def skip(k): return any(s in k.lower() for s in SKIP)
a, b = Path(sys.argv[1]), Path(sys.argv[2])
for name in sorted(p.name for p in a.iterdir() if p.is_dir()):
    for ma in sorted((a / name).rglob("metrics.json")):
        rel = ma.relative_to(a / name)
        # run folders carry a timestamp: match by position
        cands = sorted((b / name).rglob("metrics.json"))
        ra = sorted((a / name).rglob("metrics.json")).index(ma)
        mb = cands[ra] if ra < len(cands) else None
        if mb is None:
            print(f"{name}/{rel}: MISSING after"); continue
        A = dict(flat(json.loads(ma.read_text()))); B = dict(flat(json.loads(mb.read_text())))
        nums = [k for k in A if isinstance(A[k], (int, float)) and not isinstance(A[k], bool) and not skip(k)]
        diff = [k for k in nums if k in B and not (A[k] == B[k] or (isinstance(B[k], float) and math.isnan(A[k]) and math.isnan(B[k])))]
        gone = [k for k in A if k not in B and not skip(k)]
        new = [k for k in B if k not in A and not skip(k)]
        print(f"{name}/{ma.relative_to(a/name)}: {len(nums)} numbers compared, {len(diff)} differ, {len(gone)} keys gone, {len(new)} keys new")
        for k in diff[:15]: print(f"   DIFF {k}: {A[k]} -> {B[k]}")
        for k in gone[:10]: print(f"   GONE {k}")
        for k in new[:10]: print(f"   NEW  {k}")
