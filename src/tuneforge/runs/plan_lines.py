"""What a run prints about its plan before training: defaults taken, stages, the head solve, notes.

``print_plan`` writes the ``default``/``plan`` lines from ``plan.json``'s rows; ``plan_notes`` says what
the user should know before training (stages that won't run, a head that can't be solved);
``head_solution_line`` is the line printed once the head has been solved.
"""
from __future__ import annotations

from rich.markup import escape

from ..strategies.defaults import describe


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
