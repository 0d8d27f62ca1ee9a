"""Matplotlib figures rendered off-screen (Agg) into PNG data URIs for the report.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot global state), so
building reports never opens a window and is safe in worker threads.
"""
from __future__ import annotations

import base64
import io
from typing import Optional

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

WIDTH, HEIGHT, DPI = 5.2, 3.4, 110


def new_figure(width: float = WIDTH, height: float = HEIGHT) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_data_uri(fig: Figure) -> str:
    """The figure as ``data:image/png;base64,...``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def learning_curves(history: list[dict], monitor: Optional[str]) -> Optional[str]:
    """Train loss and the monitored validation metric against optimizer steps."""
    if not history:
        return None
    steps = [h["step"] for h in history]
    fig = new_figure()
    ax = fig.add_subplot()
    loss = [h.get("train_loss") for h in history]
    ax.plot(steps, [np.nan if v is None else v for v in loss], "o-", color="#3060c0", label="train loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("train loss", color="#3060c0")
    names = sorted({k for h in history for k in h.get("validation", {})})
    metric = monitor if monitor in names else (names[0] if names else None)
    if metric:
        ax2 = ax.twinx()
        ax2.plot(steps, [h.get("validation", {}).get(metric, np.nan) for h in history], "s-", color="#c05030",
                 label=f"validation {metric}")
        ax2.set_ylabel(f"validation {metric}", color="#c05030")
    ax.set_title("learning curves")
    return to_data_uri(fig)


def learning_rates(history: list[dict]) -> Optional[str]:
    """Learning rate of each block of the layer map against steps (frozen blocks sit at 0)."""
    blocks = list(dict.fromkeys(b for h in history for b in h.get("lr", {})))
    if not blocks:
        return None
    fig = new_figure()
    ax = fig.add_subplot()
    steps = [h["step"] for h in history]
    cmap = __import__("matplotlib").colormaps["viridis"]
    for i, b in enumerate(blocks):
        ax.plot(steps, [h.get("lr", {}).get(b, np.nan) for h in history], ".-", label=b,
                color=cmap(i / max(1, len(blocks) - 1)))
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    ax.set_title("learning rate per block (at each evaluation)")
    if len(blocks) <= 14:
        ax.legend(fontsize=6, ncol=2)
    return to_data_uri(fig)


def confusion_matrix(cm: list[list[int]], labels: list[str]) -> Optional[str]:
    if not cm:
        return None
    m = np.asarray(cm, dtype=float)
    k = len(m)
    size = min(7.0, 2.5 + 0.35 * k)
    fig = new_figure(size + 0.8, size)
    ax = fig.add_subplot()
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, shrink=0.8, label="share of the true class")
    if k <= 30:
        ax.set_xticks(range(k), labels, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(k), labels, fontsize=7)
    if k <= 12:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix (test)")
    return to_data_uri(fig)


def _per_class(curves: dict, x: str, y: str, score: str, title: str, xlabel: str, ylabel: str,
               diagonal: bool) -> Optional[str]:
    if not curves:
        return None
    fig = new_figure()
    ax = fig.add_subplot()
    for name, c in list(curves.items())[:15]:
        ax.plot(c[x], c[y], label=f"{name} ({c[score]:.3f})", linewidth=1.2)
    if diagonal:
        ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=6)
    return to_data_uri(fig)


def roc_curves(curves: dict) -> Optional[str]:
    return _per_class(curves, "fpr", "tpr", "auc", "ROC curves, one-vs-rest (AUC)", "false positive rate",
                      "true positive rate", True)


def pr_curves(curves: dict) -> Optional[str]:
    return _per_class(curves, "recall", "precision", "ap", "precision-recall (average precision)", "recall",
                      "precision", False)


def reliability_diagram(points: dict) -> Optional[str]:
    if not points or not points.get("confidence"):
        return None
    fig = new_figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect calibration")
    ax.scatter(points["confidence"], points["accuracy"], s=10 + 60 * np.sqrt(np.asarray(points["count"]) /
                                                                               max(points["count"])),
               color="#3060c0", label="bins (size = examples)")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("reliability (test)")
    ax.legend(fontsize=6)
    return to_data_uri(fig)


def bars(values: dict[str, float], title: str, ylabel: str, ylim=(0, 1.05)) -> Optional[str]:
    """A bar per entry (CKA per block, a metric per strategy...)."""
    items = [(k, v) for k, v in values.items() if v is not None and np.isfinite(v)]
    if not items:
        return None
    fig = new_figure()
    ax = fig.add_subplot()
    ax.bar(range(len(items)), [v for _, v in items], color="#3060c0")
    ax.set_xticks(range(len(items)), [k for k, _ in items], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_title(title)
    return to_data_uri(fig)


def occlusion_image(image: list, heatmap: list, caption: str) -> str:
    """An image with its occlusion heat map laid over it."""
    pixels = np.asarray(image, dtype=np.uint8)
    fig = new_figure(3.0, 3.0)
    ax = fig.add_subplot()
    ax.imshow(pixels[..., 0] if pixels.shape[-1] == 1 else pixels, cmap="gray" if pixels.shape[-1] == 1 else None)
    h, w = pixels.shape[:2]
    heat = np.asarray(heatmap)
    lim = max(float(np.abs(heat).max()), 1e-6)
    ax.imshow(heat, cmap="bwr", alpha=0.45, vmin=-lim, vmax=lim, extent=(0, w, h, 0), interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(caption, fontsize=8)
    return to_data_uri(fig)


def image_thumbnail(image: list, caption: str) -> str:
    """A small image (uint8 ``H x W x C`` nested lists) with a caption above it."""
    pixels = np.asarray(image, dtype=np.uint8)
    fig = new_figure(2.2, 2.2)
    ax = fig.add_subplot()
    ax.imshow(pixels[..., 0] if pixels.shape[-1] == 1 else pixels, cmap="gray" if pixels.shape[-1] == 1 else None)
    ax.set_axis_off()
    ax.set_title(caption, fontsize=7)
    return to_data_uri(fig)


def leaderboard_bars(values: dict[str, float], intervals: dict[str, Optional[list]], references: dict[str, float],
                     title: str, ylabel: str, ylim=None, losing: frozenset = frozenset()) -> Optional[str]:
    """A bar per strategy with its interval as an error bar, and each reference (the frozen baseline,
    the majority predictor) as a horizontal line across all bars. Strategies in ``losing`` (not
    better than the baseline) are drawn grey and hatched."""
    items = [(k, v) for k, v in values.items() if v is not None and np.isfinite(v)]
    if not items:
        return None
    fig = new_figure()
    ax = fig.add_subplot()
    heights = np.array([v for _, v in items])
    low = np.array([v - (intervals.get(k) or [v, v])[0] for k, v in items])
    high = np.array([(intervals.get(k) or [v, v])[1] - v for k, v in items])
    bars = ax.bar(range(len(items)), heights, color=["#a0a8b8" if k in losing else "#3060c0" for k, _ in items],
                  yerr=np.maximum(np.vstack([low, high]), 0), capsize=4, ecolor="#1d2330")
    for bar, (k, _) in zip(bars, items):
        if k in losing:
            bar.set_hatch("//")
    for (name, value), style in zip(references.items(), ["--", ":"]):
        if value is not None and np.isfinite(value):
            ax.axhline(value, linestyle=style, color="#c05030", label=f"{name} ({value:.3f})")
    ax.set_xticks(range(len(items)), [k for k, _ in items], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    if references:
        ax.legend(fontsize=6, loc="lower right")
    ax.set_title(title)
    return to_data_uri(fig)
