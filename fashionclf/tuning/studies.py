"""Optuna studies that outlive a process: storages, resuming, worker processes.

- Storage: ``None`` (in memory), a SQLite URL (``sqlite:///study.db``), a
  PostgreSQL URL (``postgresql://user@host/db``: several machines share one
  study), or ``journal:PATH`` (Optuna's journal file). RDB storages get
  heartbeats: a trial whose worker died is marked FAIL after
  ``grace_period`` seconds and re-queued once with the same parameters.
- A study records what it searches (:func:`study_identity`); resuming it
  with other settings is refused (:func:`claim`).
- :func:`run_workers` splits trials among spawned processes on one machine.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import random
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna

from .._utils.messages import first_line, redact_urls

__all__ = [
    "claim",
    "default_study_name",
    "open_study",
    "run_workers",
    "sampler_seed",
    "study_identity",
]


#: Seconds a PostgreSQL connection attempt may take before it counts as failed.
CONNECT_TIMEOUT_S = 10

#: Words of a driver's error that mean the storage cannot be reached at all
#: (retrying will not help), as opposed to workers racing to create tables.
_UNREACHABLE = (
    "connect",
    "unable to open database file",
    "timeout expired",
    "could not translate host name",
    "name or service not known",
)


def _unreachable(exc: BaseException) -> bool:
    from sqlalchemy.exc import OperationalError

    text = str(getattr(exc, "orig", exc)).lower()
    return isinstance(exc, OperationalError) and any(w in text for w in _UNREACHABLE)


def _storage(
    storage: str | None, heartbeat_interval: int | None, grace_period: int | None
):
    if storage is None:
        return None
    if storage.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(storage.removeprefix("journal:")))
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(storage).get_dialect()
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ValueError(
            f"storage={redact_urls(storage)!r} is not a storage URL this machine can "
            f"use ({redact_urls(str(exc))}); "
            "expected sqlite:///PATH, postgresql://USER@HOST:PORT/DB or journal:PATH."
        ) from exc
    kwargs: dict[str, Any] = {}
    if storage.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    elif storage.startswith("postgresql"):  # a server that never answers
        kwargs["engine_kwargs"] = {
            "connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}
        }
    # Heartbeats and their retry callback have been "experimental" since
    # Optuna 2.8; we chose them on purpose, so their warnings are not the
    # user's news (only these two, only here).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if heartbeat_interval:
            kwargs.update(
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                heartbeat_stale_trial_callback=(
                    optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)
                ),
            )
        return optuna.storages.RDBStorage(storage, **kwargs)


def _pruner(pruner: str) -> optuna.pruners.BasePruner:
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if pruner == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(
        f"pruner={pruner!r} is not valid; expected 'median', 'hyperband' or 'none'."
    )


def open_study(
    study_name: str = "fashionclf",
    storage: str | None = None,
    *,
    pruner: str = "median",
    random_state: int | None = None,
    heartbeat_interval: int | None = 20,
    grace_period: int | None = None,
) -> optuna.Study:
    """Create or load (resume) a maximising study.

    Parameters
    ----------
    study_name : str, default='fashionclf'
    storage : str or None
        None, ``sqlite:///PATH``, ``postgresql://...`` or ``journal:PATH``.
    pruner : {'median', 'hyperband', 'none'}, default='median'
    random_state : int, optional
        Seed of the TPE sampler.
    heartbeat_interval, grace_period : int, optional
        Heartbeat settings of RDB storages (None disables heartbeats).
    """
    from sqlalchemy.exc import DBAPIError

    for attempt in range(5):
        try:
            return optuna.create_study(
                storage=_storage(storage, heartbeat_interval, grace_period),
                study_name=study_name,
                direction="maximize",
                load_if_exists=True,
                pruner=_pruner(pruner),
                sampler=optuna.samplers.TPESampler(seed=random_state),
            )
        except DBAPIError as exc:
            if _unreachable(exc):
                reason = first_line(getattr(exc, "orig", exc))
                raise ConnectionError(
                    f"cannot reach the study storage {redact_urls(str(storage))} "
                    f"({redact_urls(reason)}); check the URL, that the server runs "
                    "and the folder exists."
                ) from exc
            # Several workers creating the schema of a new database at once
            # (duplicate table, duplicate pg_type key, lock timeouts): one
            # wins, the others retry and find the tables there.
            if attempt == 4:
                raise
            time.sleep(0.2 + random.random() * (attempt + 1))
    raise AssertionError("unreachable")


def run_workers(
    target: Callable[..., None],
    settings: dict[str, Any],
    n_trials: int,
    n_workers: int,
    random_state: int,
    n_done: int,
) -> None:
    """Split ``n_trials`` exactly among ``n_workers`` spawned processes.

    Each process runs ``target(settings=...)`` (a module-level function, so
    that ``spawn`` can import it). ``settings``: the study's name, storage,
    pruner, heartbeat settings, timeout, torch threads per worker, and the
    objective's keywords. Each worker's sampler seed comes from
    ``random_state``, its number and ``n_done``, the trials the study held
    before.
    """
    shares = [
        n_trials // n_workers + (i < n_trials % n_workers) for i in range(n_workers)
    ]
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(
            target=target,
            kwargs={
                "settings": {
                    **settings,
                    "n_trials": k,
                    "random_state": sampler_seed(random_state, i, n_done),
                }
            },
        )
        for i, k in enumerate(shares)
        if k > 0
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise RuntimeError(
            f"{len(failed)} tuning worker(s) exited with codes {failed}."
        )


def study_identity(
    model: str, X, y, space: dict, max_epochs: int | None, validation_fraction: float
) -> dict[str, Any]:
    """Describe what a study searches: recorded in it, compared on resume."""
    from .. import __version__

    digest = hashlib.blake2b(digest_size=8)
    for arr in (X, y):
        data = np.ascontiguousarray(np.asarray(arr))
        digest.update(str((data.shape, data.dtype.str)).encode())
        digest.update(data.tobytes())
    shown = {k: repr(v) for k, v in sorted(space.items())}
    return {
        "model": model,
        "search_space": json.dumps(shown, sort_keys=True),
        "max_epochs": max_epochs if model.startswith("cnn-") else None,
        "validation_fraction": validation_fraction,
        "n_samples": len(y),
        "data_fingerprint": digest.hexdigest(),
        "fashionclf_version": __version__,
    }


def default_study_name(identity: dict) -> str:
    """``fashionclf-<model>-n<samples>``."""
    return f"fashionclf-{identity['model']}-n{identity['n_samples']}"


def claim(study: optuna.Study, identity: dict, storage: str | None) -> None:
    """Record ``identity`` in a new study; refuse a study that holds another."""
    held = study.user_attrs.get("fashionclf")
    if held is None:
        if study.trials:
            raise ValueError(
                f"study {study.study_name!r} in {redact_urls(str(storage))} has "
                f"{len(study.trials)} trials but no record of what it searches "
                "(made by an older fashionclf?); expected a study made by "
                "run_study. Use another study name."
            )
        study.set_user_attr("fashionclf", identity)
        return
    diff = [k for k in identity if held.get(k) != identity[k]]
    if diff:
        shown = ", ".join(
            f"{k}={_short(held.get(k))} (this call: {_short(identity[k])})"
            for k in diff
        )
        raise ValueError(
            f"study {study.study_name!r} in {redact_urls(str(storage))} searches "
            f"something else: {shown}. Resume it with the same settings, or use "
            "another study name (--study-name)."
        )


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def sampler_seed(random_state: int, worker: int, n_done: int) -> int:
    """Derive a sampler seed from (seed, worker, trials already in the study)."""
    key = f"{random_state}|{worker}|{n_done}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "big")
