"""The run report's "int8 ONNX" section: what ``tuneforge export RUN --onnx --quantize int8`` measured.

Read from ``model/onnx.json`` (its ``int8`` part, written by :mod:`tuneforge.artefacts.onnx_int8`):
file sizes, latency per example at batch 1 and 32 for PyTorch fp32, ONNX fp32 and ONNX int8, the
run's metric with its interval for both files, the paired difference and the recommended file.
"""
from __future__ import annotations

import json
from pathlib import Path

from .html import esc, fmt, note, section, table, with_ci


def int8_section(run_dir: Path) -> str:
    """The section; "" when the run's model was never quantised."""
    path = Path(run_dir) / "model" / "onnx.json"
    try:
        r = json.loads(path.read_text(encoding="utf-8")).get("int8") if path.is_file() else None
    except (OSError, ValueError):
        return ""
    if not r:
        return ""
    m, size, d = r["metric"], r["size"], r["difference"]
    rows = [["file size", "-", f"{size['fp32_bytes'] / 1e6:.1f} MB",
             f"{size['int8_bytes'] / 1e6:.1f} MB ({size['ratio']:.2f}x)"]]
    for key, lat in r["latency"].items():
        rows.append([f"ms per example, {esc(key.replace('_', ' '))}", fmt(lat["pytorch_fp32"] * 1e3, 3),
                     fmt(lat["onnx_fp32"] * 1e3, 3),
                     f"{fmt(lat['onnx_int8'] * 1e3, 3)} ({lat['int8_vs_pytorch']:.2f}x PyTorch)"])
    rows.append([f"{esc(m)} ({r['confidence']:.0%} interval)", "-",
                 *[with_ci(r[k]["metrics"].get(m), r[k]["ci"].get(m)) for k in ("fp32", "int8")]])
    rows.append([f"difference int8 - fp32 (p={fmt(d['p_value'], 3)})", "-", "-", with_ci(d["difference"], d["ci"])])
    head = f"<p><strong>Recommended: model/{esc(r['recommended'])}</strong>. {esc(r['verdict'])}</p>"
    return section("int8 ONNX", head, table(["", "PyTorch fp32", "ONNX fp32", "ONNX int8"], rows, raw=True),
                   note(f"Scored on the run's {r['split']} split ({r['examples']} examples); latency on the exporting "
                        f"machine's CPU with {r['threads']} thread(s), median of several passes after a warm-up. "
                        f"`tuneforge export RUN --onnx --quantize int8` rewrites this."), anchor="int8")
