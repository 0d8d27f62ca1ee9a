"""The run report's "Differential privacy" section: the budget the accountant says was spent and the
settings that produced it (from ``metrics.json`` ``privacy``, see :mod:`tuneforge.privacy.engine`)."""
from __future__ import annotations

from .html import esc, fmt, note, section, table


def privacy_lines(p: dict) -> tuple[str, list[str]]:
    """(the headline, the caveats) in words; shared by the report and the terminal summary."""
    target = f" of a target {p['target_epsilon']:g}" if p.get("target_epsilon") is not None else ""
    head = (f"DP-SGD (Opacus): epsilon {p['epsilon']:.3g}{target} at delta {p['delta']:.2g} "
            f"({p['accountant']} accountant) over {p['steps']} steps")
    caveats = ["the pre-trained baseline (linear probe) beside it is fitted on the same training features "
               "without privacy: a reference, not a private model"]
    if not p.get("poisson_sampling", True):
        caveats.append("privacy.poisson_sampling is false: batches are shuffled fixed-size ones, so the accountant's "
                       "sampling assumption holds only approximately")
    return head, caveats


def privacy(metrics: dict) -> str:
    """The section; "" for a run without ``privacy:``."""
    p = metrics.get("privacy")
    if not p:
        return ""
    head, caveats = privacy_lines(p)
    rows = [["epsilon spent", fmt(p["epsilon"])], ["target epsilon", fmt(p.get("target_epsilon"))],
            ["delta", f"{p['delta']:.3g}" + (" (default 1/(10 N))" if p.get("delta_default") else "")],
            ["noise multiplier", fmt(p["noise_multiplier"])], ["noise from", esc(p.get("noise_from", ""))],
            ["max_grad_norm (per-example clipping)", fmt(p["max_grad_norm"])],
            ["sample rate (expected batch / N)", fmt(p["sample_rate"])],
            ["steps taken / planned", f"{p['steps']} / {p.get('planned_steps', '?')}"],
            ["Poisson sampling", esc(p.get("poisson_sampling"))], ["accountant", esc(p["accountant"])]]
    return section("Differential privacy", f"<p>{esc(head)}.</p>", table(["", ""], rows, raw=True),
                   *[note(c[0].upper() + c[1:] + ".") for c in caveats], anchor="privacy")
