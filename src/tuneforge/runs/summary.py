"""What a run prints: its plan before training (defaults taken, stages, the head solve, notes) and its
human-readable summary at the end.

``print_plan`` writes the ``default``/``plan`` lines from ``plan.json``'s rows; ``plan_notes`` says what
the user should know before training (stages that won't run, a head that can't be solved);
``head_solution_line`` is the line printed once the head has been solved; ``print_summary`` ends the run.
"""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..evaluation.diagnostics import verdict
from ..terminal import print_path, print_segments
from .phases import phases_line
from ..report.privacy_section import privacy_lines
from ..strategies.defaults import describe
from ..training.final_model import model_label


def _cell(m: dict, name: str, ci: dict) -> str:
    if name not in m:
        return "-"
    low_high = ci.get(name)
    return f"{m[name]:.4f}" + (f"\n[{low_high[0]:.3f}, {low_high[1]:.3f}]" if low_high else "")


def print_summary(console: Console, metrics: dict) -> None:
    names = metrics["columns"]["summary"]   # the task's columns (Task.summary_columns)
    table = Table(title=f"{metrics['model']} · {metrics['task']} · strategy {metrics['strategy']['name']}")
    table.add_column("model")
    for n in names:
        table.add_column(n, justify="right")
    rows = []
    if metrics.get("baseline_majority"):
        rows.append(("majority / mean predictor", metrics["baseline_majority"]))
    if metrics.get("baseline"):
        rows.append(("pre-trained baseline (linear probe" + (", not private)" if metrics.get("privacy") else ")"),
                     metrics["baseline"]))
    random_init = metrics.get("baseline_random_init")
    if isinstance(random_init, dict) and any(n in random_init for n in names):
        rows.append(("same model from random weights", random_init))
    split = "test" if metrics.get("test") else "validation"
    rows.append((model_label(metrics["strategy"]["name"], metrics.get("final_model")), metrics.get(split) or {}))
    ci = metrics.get("test_ci") or {} if split == "test" else {}
    for i, (label, m) in enumerate(rows):
        last = i == len(rows) - 1
        table.add_row(label, *[_cell(m, n, ci if last else {}) for n in names])
    console.print(table)
    line = final_model_line(metrics.get("final_model"))
    if line:
        console.print(line)
    t = metrics["train"]
    if ci:
        console.print(f"[dim]brackets: {100 * metrics.get('confidence', 0.95):.0f}% bootstrap confidence intervals[/dim]")
    print_segments(console, [f"metrics on the {split} split ({metrics['data']['sizes'].get(split, '?')} examples);",
                             *training_segments(metrics), f"{t['samples_per_second']:.1f} samples/s,",
                             f"{t['trainable_parameters']:,} of {t['total_parameters']:,} parameters trained,",
                             f"peak memory {t['peak_memory_mb']:.0f} MB"
                             + (f", {100 * t['padding_fraction']:.1f}% padding" if t.get("padding_fraction") is not None
                                else "") + ";", total_segment(metrics)], separator=" ")
    if metrics.get("phases"):
        console.print(f"[dim]time[/dim] {escape(phases_line(metrics['phases']))}", highlight=False)
    if metrics.get("privacy"):
        head, caveats = privacy_lines(metrics["privacy"])
        console.print(f"[bold]privacy[/bold] {escape(head)}; " + escape("; ".join(caveats)))
    retention = retention_line(metrics.get("retention"))
    if retention:
        console.print(retention)
    print_verdict_and_diagnostics(console, metrics)
    print_path(console, "run folder", metrics["run_dir"])


def final_model_line(final) -> str:
    """One line when the run hands back its step-0 model (a warning when training was discarded), else ""."""
    if not isinstance(final, dict) or not final.get("is_step0"):
        return ""
    if final.get("training_discarded"):
        return f"[bold yellow]final model[/bold yellow] step 0, not the trained model: {escape(final['why'])}"
    return f"[dim]final model[/dim] {escape(final['why'])}"


def training_segments(metrics: dict) -> list[str]:
    """Training time; after ``--resume`` it spans every process of the run, so say so and give this one's;
    when the run handed back its step-0 model, the time is shown and called discarded."""
    t = metrics["train"]
    discarded = " (discarded: the step-0 model was handed back)" \
        if (metrics.get("final_model") or {}).get("training_discarded") else ""
    if metrics.get("resumed") and "seconds_this_process" in t:
        return [f"training {t['seconds']:.1f}s (all processes of this run;",
                f"this process {t['seconds_this_process']:.1f}s){discarded},"]
    return [f"training {t['seconds']:.1f}s{discarded},"]


def total_segment(metrics: dict) -> str:
    """The whole time of this process (start-up included when run from the command line)."""
    return f"total {metrics['seconds_total']:.1f}s" + (" (this process)" if metrics.get("resumed") else "")


def retention_line(r) -> str:
    """What the run kept of the pre-trained model, in one line (empty when retention was not measured)."""
    if not isinstance(r, dict):
        return ""
    if "error" in r:
        return f"[yellow]retention[/yellow] not measured: {escape(str(r['error']))}"
    if "score" not in r:
        return ""
    if r.get("default"):
        return (f"[bold]retention[/bold] {r['score']:.3f} ({escape(r['measure'])}, {r['probe_examples']} examples of "
                f"the {escape(r['probe_source'])}: {escape(r['meaning'])})")
    src = r.get("source_task")
    if src and src.get("before"):
        what = (f"source-task accuracy {src['after']:.3f} after vs {src['before']:.3f} before "
                f"(re-fitted probe {src.get('after_refit', float('nan')):.3f})")
    elif r.get("original_head_agreement") is not None:
        what = "share of the original classifier's predictions unchanged on the fine-tuned backbone"
    else:
        what = "rank correlation of pairwise embedding similarities, pre-trained vs fine-tuned"
    cka = f", mean CKA per block {r['mean_cka']:.3f}" if isinstance(r.get("mean_cka"), float) else ""
    return (f"[bold]retention[/bold] {r['score']:.3f} ({escape(what)}; {r.get('probe_examples', '?')} examples"
            f"{cka})")


def print_verdict_and_diagnostics(console: Console, metrics: dict) -> None:
    """'Did fine-tuning help?' in words, then every diagnostic as a warning with the overrides to try."""
    base = metrics.get("baseline") if isinstance(metrics.get("baseline"), dict) else {}
    if base or metrics.get("vs_baseline"):
        split, monitor = metrics.get("test") or metrics.get("validation") or {}, metrics.get("monitor")
        text = verdict(metrics.get("vs_baseline"), split.get(monitor), base.get(monitor))
        console.print(f"[bold]did fine-tuning help?[/bold] {escape(text)}")
    for d in metrics.get("diagnostics") or []:
        console.print(f"[bold yellow]warning[/bold yellow] {escape('[' + d['code'] + ']')} {escape(d['message'])}")
        console.print(f"  likely cause: {escape(d['cause'])}")
        if d.get("try"):
            console.print(f"  try: [bold]{escape(' '.join(d['try']))}[/bold]")


def print_plan(console, rows, trainer) -> None:
    for line in describe(trainer.defaults):
        console.print(f"[dim]default[/dim] {escape(line)}")
    opt = trainer.recipe.optimizer
    for i, s in enumerate(rows):
        scales = s["lr_scales"]
        blocks = ", ".join(f"{b}" + (f" x{scales[b]:g}" if b in scales and scales[b] != 1 else "") for b in s["trainable"])
        how = (f"at lr {opt.lr:g}" + (f", head {opt.head_lr:g}" if opt.head_lr and opt.head_lr != opt.lr else "")
               if trainer.total_steps > s["start_step"] else "no SGD step")
        console.print(f"[dim]plan[/dim] stage {i + 1} '{escape(s['name'])}' from step {s['start_step']}: "
                      + ("head solved by L-BFGS first (optimizer.lr does not apply to it); " if s.get("solve_head") else "")
                      + f"trains {s['trainable_parameters']:,} parameters in {escape('[' + blocks + ']')} {how}")
    balance = rows[0].get("class_balance") or {}
    if balance and balance.get("reason") != "the task has no classes":
        console.print(f"[dim]plan[/dim] class balance: {balance['choice']} ({escape(balance['reason'])})")
    for note in rows[0].get("notes", []):
        console.print(f"[yellow]plan[/yellow] {escape(note)}")


def plan_notes(trainer) -> list[str]:
    """What the user should know before training: stages that won't run, a head that can't be solved."""
    notes = list(trainer.plan.notes)
    if not trainer.unwrapped.new_head:
        net = trainer.unwrapped.net
        tied = bool(getattr(getattr(net, "config", None), "tie_word_embeddings", False))
        notes.append("the model keeps its pre-trained LM head" + (" (tied to the input embeddings, so it trains "
                                                                  "only where the embeddings block does)" if tied else "")
                     + ": there is no new head, so warm_head and head solving do not apply")
    elif not trainer.head_solvable and trainer.head_unsolvable_why != "warm_head: false":
        notes.append(f"the head is trained by SGD, not solved: {trainer.head_unsolvable_why}")
    return notes


def head_solution_line(record: dict) -> str:
    val = f", validation loss {record['val_loss']:.4f}" if record.get("val_loss") is not None else ""
    return (f"head solved ({record['kind']}, L-BFGS/closed form) in {record['seconds']:.1f}s: C={record['C']:.3g} "
            f"chosen by {record['selected_by']}, train loss {record['train_loss']:.4f}{val}")
