"""The settings of a federated run (``tuneforge federate`` options), checked before any work.

They sit beside the recipe rather than in it: the recipe says what one client trains (model,
data, strategy, optimizer, ``train.batch_size``...), these say how the clients are formed and
how their updates are combined. Both are saved in the run folder (``recipe.yaml`` and
``metrics.json["federated"]``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

from ..errors import RecipeError
from .split import parse_split

STRATEGIES = ("fedavg", "fedprox")


@dataclass(frozen=True)
class FederatedOptions:
    clients: int = 4                   # K simulated clients (Flower SuperNodes)
    rounds: int = 3                    # server rounds: send global -> local training -> aggregate
    split: str = "iid"                 # iid or dirichlet:ALPHA, by label, seeded with train.seed
    local_epochs: int = 1              # epochs over its own rows each client trains per round
    local_steps: Optional[int] = None  # or: this many optimizer steps per round (overrides local_epochs)
    strategy: str = "fedavg"           # fedavg or fedprox (Flower's strategies)
    mu: float = 0.01                   # fedprox: weight of the proximal term mu/2 * ||w - w_global||^2
    fraction: float = 1.0              # share of the clients that train in each round (at least one)

    def problems(self) -> list[str]:
        out = []
        if self.clients < 1:
            out.append(f"--clients {self.clients}: give at least one client")
        if self.rounds < 1:
            out.append(f"--rounds {self.rounds}: give at least one round")
        if self.local_epochs < 1:
            out.append(f"--local-epochs {self.local_epochs}: give at least one epoch")
        if self.local_steps is not None and self.local_steps < 1:
            out.append(f"--local-steps {self.local_steps}: give at least one step")
        if self.strategy not in STRATEGIES:
            out.append(f"--strategy {self.strategy!r}: use one of {', '.join(STRATEGIES)}")
        if self.mu < 0:
            out.append(f"--mu {self.mu}: the proximal weight cannot be negative")
        if self.mu != FederatedOptions.mu and self.strategy != "fedprox":
            out.append(f"--mu {self.mu} applies to --strategy fedprox only (the strategy is {self.strategy})")
        if not 0.0 < self.fraction <= 1.0:
            out.append(f"--fraction {self.fraction}: give a share of the clients in (0, 1]")
        try:
            parse_split(self.split)
        except RecipeError as e:
            out.extend(e.problems or [str(e)])
        return out

    def check(self) -> "FederatedOptions":
        problems = self.problems()
        if problems:
            raise RecipeError(problems=problems)
        return self

    @property
    def clients_per_round(self) -> int:
        return max(1, int(self.clients * self.fraction))

    def to_dict(self) -> dict:
        return asdict(self)
