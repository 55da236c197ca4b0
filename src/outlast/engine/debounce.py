"""Debounced triggers: many triggers with one key inside a window become one run.

A ``debounces`` row per (environment, task, key) points at the run the key currently
collects into. It is locked (or, for the first trigger, inserted and raced on its primary
key) in the trigger's transaction, so concurrent triggers with one key agree on one run.
Trailing debounce edits the waiting run with an update guarded on DELAYED: once the run
has been queued or has started it is never changed, and the trigger starts a new run.
See ``outlast.core.debounce`` for the user-facing rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from outlast.core.debounce import Debounce
from outlast.store.protocol import Row, Tx


def postponed_start(spec: Debounce, first_at: float, now: float) -> float:
    """Trailing: ``delay`` after this trigger, but no later than ``max_delay`` after the first."""
    return min(now + spec.delay, first_at + spec.max_delay)


def leading_window_open(spec: Debounce, first_at: float, last_at: float, now: float) -> bool:
    """Leading: a trigger joins while within ``delay`` of the previous one and ``max_delay``
    of the first."""
    return now < min(last_at + spec.delay, first_at + spec.max_delay)


def trigger(
    tx: Tx, env: str, task_id: str, payload_of: Callable[[str], str], spec: Debounce,
    now: float, create: Callable[[float | None], dict[str, Any]],
) -> tuple[Row, bool]:
    """The run this trigger joins (created False) or the new run ``create`` made and inserted.

    ``payload_of(run_id)`` is the payload text a joined run takes (a large one is kept as
    a blob of that run).
    ``create(delay)`` builds and inserts a run, starting no sooner than ``delay``.
    """
    keys = {"environment": env, "task_id": task_id, "key": spec.key}
    row = tx.one("lock_debounce", **keys)
    if row is not None:
        joined = _join(tx, row, spec, payload_of, now)
        if joined is not None:
            return joined, False
    first_delay = now + spec.delay if spec.mode == "trailing" else None
    new = create(first_delay)
    if row is None and tx.run("insert_debounce", run_id=new["id"], mode=spec.mode, now=now,
                              **keys) == 1:
        return new, True
    # the key exists (it was stale, or a concurrent trigger inserted it first)
    tx.run("restart_debounce", run_id=new["id"], mode=spec.mode, now=now, **keys)
    return new, True


def _join(tx: Tx, row: Row, spec: Debounce, payload_of: Callable[[str], str],
          now: float) -> Row | None:
    if row["mode"] != spec.mode:
        return None
    keys = {"environment": row["environment"], "task_id": row["task_id"], "key": row["key"]}
    if spec.mode == "leading":
        if not leading_window_open(spec, row["first_at"], row["last_at"], now):
            return None
        tx.run("touch_debounce", now=now, **keys)
        return tx.one("get_run", id=row["run_id"], environment=row["environment"])
    at = postponed_start(spec, row["first_at"], now)
    joined = tx.one("debounce_postpone", id=row["run_id"], payload=payload_of(row["run_id"]),
                    available_at=at, now=now)
    if joined is not None:
        tx.run("touch_debounce", now=now, **keys)
    return joined


def without_debounce_delay(options: Any, delay: float | None) -> Any:
    """The trigger options of a debounced run's first trigger (its start postponed)."""
    if delay is None:
        return options
    return replace(options, delay=max(delay, options.delay or 0.0))
