"""Report sections that look inside predictions: explained examples and where the model goes wrong.

* :func:`explanations`: each explained test example with its occlusion scores and, where the run
  computed them, its gradient attribution (integrated gradients over tokens, Grad-CAM over the
  image), so the two views can be read side by side; where an image has no Grad-CAM map (too small,
  or a transformer), the reason the run recorded.
* :func:`top_losses`: the test examples with the highest loss (the model's most confident mistakes,
  fastai's "top losses") and the class pairs it confuses most.
"""
from __future__ import annotations

from typing import Optional

from ..evaluation.attribution import MISSING_NOTE, attribution_available
from . import figures
from .html import esc, grid, img, note, section, table

_METHOD = {"integrated-gradients": "integrated gradients", "grad-cam": "Grad-CAM"}


def explanations(entries) -> str:
    if not entries:
        return ""
    attrs = [e["attribution"] for e in entries if e.get("attribution")]
    has_attr = any("tokens" in a or "heatmap" in a for a in attrs)
    text = ("Occlusion: how much the predicted class's probability falls when a token (or an image patch) is "
            "hidden. Red supported the prediction, blue spoke against it.")
    if has_attr:
        text += (" Integrated gradients (Captum): each token's share of the predicted logit's change from a "
                 "padding-only input; the shares add up to that change. Grad-CAM (Captum): where a "
                 "convolutional feature map (the deepest at least 7×7 at this input size) drove the predicted class.")
    elif not attrs and not attribution_available():
        text += f" {MISSING_NOTE}."
    # why a map was not drawn, or was drawn on an earlier layer: the same for every example, said once
    text += "".join(f" Grad-CAM: {why}." for why in dict.fromkeys(a.get("reason") or a.get("note") for a in attrs)
                    if why)
    parts, figs = [note(text)], []
    for e in entries:
        head = (f"#{e['index']}: true <b>{esc(e['label'])}</b>, predicted <b>{esc(e['predicted'])}</b> "
                f"({e['probability']:.2f})")
        attr = e.get("attribution") or {}
        if "tokens" in e:
            lines = [f"<div class=\"meta\">occlusion</div>{_tokens(e['tokens'])}"]
            if attr.get("tokens"):
                lines.append(f"<div class=\"meta\">{_METHOD.get(attr['method'], attr['method'])} "
                             f"(convergence error {attr.get('delta', 0):.2g})</div>{_tokens(attr['tokens'])}")
            parts.append(f'<div class="example">{head}<br>{"<br>".join(lines)}</div>')
        elif "heatmap" in e:
            caption = f"true {e['label']}, predicted {e['predicted']}"
            figs.append(img(figures.occlusion_image(e["image"], e["heatmap"], caption), f"example {e['index']}: occlusion"))
            if attr.get("heatmap"):
                size = "×".join(map(str, attr.get("size") or []))
                figs.append(img(figures.occlusion_image(e["image"], attr["heatmap"], caption),
                                f"example {e['index']}: Grad-CAM ({esc(attr.get('layer', ''))}"
                                f"{', ' + size if size else ''})"))
    return section("Why these predictions?", *parts, grid(*figs), anchor="explain")


def _tokens(tokens: list[dict]) -> str:
    top = max([abs(t["score"]) for t in tokens] + [1e-6])
    return "".join(_token(t["token"], t["score"] / top) for t in tokens)


def _token(token: str, weight: float) -> str:
    alpha = min(1.0, abs(weight)) * 0.8
    color = f"rgba(220,50,40,{alpha:.2f})" if weight > 0 else f"rgba(40,90,220,{alpha:.2f})"
    return f'<span class="tok" style="background:{color}" title="{weight:+.2f}">{esc(token)}</span>'


def top_losses(found: Optional[dict]) -> str:
    if not found or not found.get("examples"):
        return ""
    rows, figs = [], []
    for r in found["examples"]:
        shown = esc(_short(r["text"])) if "text" in r else ""
        rows.append([r["index"], shown, esc(r["label"]), esc(r["predicted"]), f"{r['p_label']:.3f}", f"{r['loss']:.2f}"])
        if "image" in r:
            figs.append(img(figures.image_thumbnail(r["image"], f"true {r['label']}, predicted {r['predicted']}"),
                            f"#{r['index']}: loss {r['loss']:.2f}"))
    header = ["#", "input" if any("text" in r for r in found["examples"]) else "", "true", "predicted",
              "p(true)", "loss"]
    parts = [note("The test examples the model got most confidently wrong (highest cross-entropy): look here "
                  "for label noise, ambiguous classes and inputs unlike the training data."),
             table(header, rows), grid(*figs)]
    confused = found.get("most_confused") or []
    if confused:
        parts += ["<h3>Most confused classes</h3>",
                  table(["true", "predicted as", "test examples", "share of the true class"],
                        [[esc(c["label"]), esc(c["predicted"]), c["count"], f"{c['share']:.1%}"] for c in confused])]
    return section("Where does it go wrong?", *parts, anchor="top-losses")


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
