"""Where a study lives: SQLite in the study folder by default, or any database URL Optuna accepts.

SQLite serves one machine (several processes may share it); a PostgreSQL URL
(``postgresql+psycopg://user:password@host/db``) lets workers on several machines share one
study: each runs the same ``tuneforge search`` command with ``--storage URL --study NAME``
(docs/search.md). Trials send a heartbeat, so a worker that is killed leaves no trial
"running" forever: after the grace period its trial is marked failed, and the search reruns it.
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Optional

from ..errors import TuneforgeError
from ..extras import require_extra

HEARTBEAT_SECONDS = 10
CREATE_ATTEMPTS = 5      # opening a fresh database while another worker creates its tables: retried
GRACE_SECONDS = 40


def default_storage_url(study_dir: Path) -> str:
    return f"sqlite:///{Path(study_dir).resolve() / 'study.db'}"


def require_storage_extra(url: Optional[str]) -> None:
    """A ``postgresql+psycopg://`` study needs the ``postgres`` extra (psycopg): one message naming its
    pip line, checked before the study folder is made (``run_search``) and again when the storage opens."""
    if url and url.split("://", 1)[0].lower() == "postgresql+psycopg":
        require_extra("postgres", f"--storage {redact(url)}")


def open_storage(url: str):
    """An Optuna RDB storage with heartbeats; one clear error when the database cannot be reached."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    require_storage_extra(url)
    kwargs = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 120}}   # several local workers wait for the file lock
    else:
        kwargs = {"pool_pre_ping": True}
    for attempt in range(CREATE_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)   # heartbeats are "experimental"
                return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_SECONDS,
                                                  grace_period=GRACE_SECONDS)
        except (SQLAlchemyError, ImportError, ValueError) as e:
            if attempt + 1 < CREATE_ATTEMPTS and _lost_creation_race(e):
                time.sleep(0.5 * (attempt + 1))   # the other worker is creating the tables: open them once it's done
                continue
            raise TuneforgeError(f"--storage {redact(url)}: cannot open the study database: "
                                 f"{str(e).splitlines()[0]}") from None


def _lost_creation_race(error: Exception) -> bool:
    """Whether ``error`` is another process creating the same new database's tables at the same moment
    (two workers started together on a fresh ``study.db``): a unique version row or a table that now
    exists. A database that cannot be reached is not retried."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    text = str(error).lower()
    return isinstance(error, IntegrityError) or (isinstance(error, OperationalError) and "already exists" in text)


def redact(url: str) -> str:
    """The URL without its password, for messages and reports."""
    if "://" not in url or "@" not in url.split("://", 1)[1]:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


def make_sampler(kind: str, seed: int, startup: int):
    """The study's sampler, its random draws seeded by ``seed`` and the trial's number (see :func:`seed_each_trial`)."""
    import optuna

    if kind == "random":
        return seed_each_trial(optuna.samplers.RandomSampler(seed=seed), seed)
    # multivariate + group: conditional spaces (a strategy's own options) are modelled jointly per
    # group; constant_liar keeps parallel workers from proposing the same point
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # multivariate/group are marked experimental
        return seed_each_trial(optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(1, startup),
                                                          multivariate=True, group=True, constant_liar=True), seed)


def seed_each_trial(sampler, seed: int):
    """Make ``sampler`` draw trial ``n``'s random numbers from a state made of ``(seed, n)``.

    An Optuna sampler seeds its random state once, when the process creates it, so workers that
    join one study with the same recipe (other machines, or ``--jobs``) would draw the same
    random points: their first trials would repeat each other's. Trial numbers are unique in a
    study, so seeding each trial from its number gives every trial its own draws whichever worker
    runs it, and a study run again from the same recipe draws the same random points. (Points TPE
    models after its random start-up also depend on which trials had finished, which with several
    workers is a matter of timing.)
    """
    import numpy as np

    own = sampler.before_trial

    def before_trial(study, trial):
        state = int(np.random.SeedSequence([seed, trial.number]).generate_state(1)[0])
        for s in (sampler, getattr(sampler, "_random_sampler", None)):   # TPE's start-up draws have their own
            rng = getattr(getattr(s, "_rng", None), "rng", None)
            if rng is not None:
                rng.seed(state)
            elif s is not None:
                s.reseed_rng()     # an Optuna whose samplers keep their state elsewhere: distinct, not repeatable
        own(study, trial)

    sampler.before_trial = before_trial
    return sampler


def make_pruner(kind: str, startup: int, multi_objective: bool):
    import optuna

    if kind == "none" or multi_objective:
        return optuna.pruners.NopPruner()
    if kind == "median":
        # step 0 is the solved head, shared by most strategies: pruning starts after the first step
        return optuna.pruners.MedianPruner(n_startup_trials=max(1, startup), n_warmup_steps=1)
    if kind == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1)
    return optuna.pruners.HyperbandPruner(min_resource=1)


def load_or_create(storage, name: str, directions: list[str], sampler, pruner, fingerprint: str,
                   attrs: Optional[dict] = None):
    """The study ``name``: created with ``attrs``, or loaded when it exists and was made from the same recipe."""
    import optuna

    existing = {s.study_name: s for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    if name in existing:
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        theirs = study.user_attrs.get("fingerprint")
        if theirs is not None and theirs != fingerprint:
            raise TuneforgeError(
                f"study {name!r} was started from a different recipe or search space (its recipe is in the study "
                f"folder as recipe.yaml); give another --study NAME, or delete the study to start over")
        if [d.name.lower() for d in study.directions] != directions:
            raise TuneforgeError(f"study {name!r} optimises {len(study.directions)} objective(s) "
                                 f"{study.user_attrs.get('objectives')}; these objectives differ: use another --study")
        return study, False
    study = optuna.create_study(storage=storage, study_name=name, directions=directions, sampler=sampler,
                                pruner=pruner, load_if_exists=True)
    for k, v in {"fingerprint": fingerprint, **(attrs or {})}.items():
        study.set_user_attr(k, v)
    names = [str(o).rsplit(":", 1)[0] for o in (attrs or {}).get("objectives", [])]
    if len(names) == len(directions):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")    # experimental in Optuna; lets the dashboard name the objectives
            study.set_metric_names(names)
    return study, True
