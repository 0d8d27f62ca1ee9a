"""Recipe checks, contributed by their owners and walked in one order.

The schema sees types and keys; whether the task, strategy, metric and model exist, whether the
data has the columns, whether a private run or a search space makes sense, only the package that
owns the idea can tell. Each registers its checks here from its own ``checks.py``, with a name and
an ``order``; :func:`run_checks` walks them all, lowest order first, and returns every problem found
(one string each, starting with the dotted key it is about), so that ``tuneforge validate`` reports
them together before any heavy work.

A check gets the recipe and a :class:`CheckContext` holding the facts earlier checks established
(the task, the strategy, what the model's config says) and the problems found so far; a check that
establishes a fact sets it there. ``needs`` names the facts without which a check is skipped.

Example::

    @RECIPE_CHECKS.register("optimizer.lr_factor", order=170)
    def _lr_and_factor(recipe, ctx) -> list[str]:
        if recipe.optimizer.lr is not None and recipe.optimizer.lr_factor != 1.0:
            return ["optimizer.lr_factor: ...; set one of them"]
        return []
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

from .owners import load_owners

Check = Callable[[Any, "CheckContext"], list]
FACTS = ("task", "strategy", "model")


@dataclass
class CheckContext:
    """What earlier checks established, for later ones (None: unknown, e.g. the name was not found)."""

    task: Any = None       # the task object named by recipe.task (tasks)
    strategy: Any = None   # the strategy built from recipe.strategy (strategies)
    model: Any = None      # what the model's config says, without weights: blocks, modality (models)
    problems: list[str] = field(default_factory=list)  # found so far, in order


@dataclass(frozen=True)
class RecipeCheck:
    name: str
    order: int
    fn: Check
    needs: tuple[str, ...] = ()


class RecipeChecks:
    """The registry: name -> check, walked by ``order`` (ties keep registration order)."""

    def __init__(self):
        self._checks: dict[str, RecipeCheck] = {}

    def register(self, name: str, order: int, needs: tuple[str, ...] = ()) -> Callable[[Check], Check]:
        unknown = [n for n in needs if n not in FACTS]
        if unknown:
            raise ValueError(f"recipe check {name!r} needs unknown facts {unknown}; known: {', '.join(FACTS)}")

        def add(fn: Check) -> Check:
            if name in self._checks:
                raise ValueError(f"recipe check {name!r} is registered twice")
            self._checks[name] = RecipeCheck(name, order, fn, tuple(needs))
            return fn

        return add

    def __iter__(self) -> Iterator[RecipeCheck]:
        load_owners()
        return iter(sorted(self._checks.values(), key=lambda c: c.order))

    def names(self) -> list[str]:
        return [c.name for c in self]

    def run(self, recipe, ctx: Optional[CheckContext] = None) -> list[str]:
        """Every problem of ``recipe``, check by check."""
        ctx = ctx or CheckContext()
        for check in self:
            if all(getattr(ctx, fact) is not None for fact in check.needs):
                ctx.problems += check.fn(recipe, ctx)
        return ctx.problems


RECIPE_CHECKS = RecipeChecks()


def run_checks(recipe) -> list[str]:
    """Every problem the registered checks find in ``recipe`` (a validated :class:`Recipe`)."""
    return RECIPE_CHECKS.run(recipe)
