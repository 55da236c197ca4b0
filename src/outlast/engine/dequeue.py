"""Claiming runs for a worker, within queue concurrency limits.

The decision of which candidates may start is a pure function (``choose``), so it can
be tested on its own; ``claim`` gathers its inputs under the right locks and applies it.

Why it is safe with many workers: candidates are row-locked (``SKIP LOCKED`` on
PostgreSQL; the whole transaction is ``BEGIN IMMEDIATE`` on SQLite), and for queues with
a limit the queue rows are locked before running runs are counted, so two workers can
never both see the last free slot.

Most environments have no limits at all; for them ``claim_unlimited`` picks and starts
runs in one statement. It refuses to claim anything while one of the worker's queues is
paused or limited, and the counting path below takes over.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from outlast.engine import events
from outlast.engine.statuses import RunStatus
from outlast.store.protocol import Row, Tx


@dataclass(frozen=True)
class Candidate:
    id: str
    queue: str
    concurrency_key: str | None


Slot = str | tuple[str, str]


def slot(queue: str, concurrency_key: str | None) -> Slot:
    """What a queue's limit counts: the queue, or one (queue, concurrency key) pair.

    With a ``concurrency_key`` the limit holds per key (API.md §6); runs without a key
    share the queue's own slot.
    """
    return queue if concurrency_key is None else (queue, concurrency_key)


def choose(
    candidates: Iterable[Candidate],
    limits: dict[str, int],
    running: dict[Slot, int],
    capacity: int,
) -> list[str]:
    """Ids to start, in candidate order, never exceeding a slot's limit or ``capacity``."""
    taken: list[str] = []
    used = dict(running)
    for cand in candidates:
        if len(taken) >= capacity:
            break
        key = slot(cand.queue, cand.concurrency_key)
        limit = limits.get(cand.queue)
        if limit is not None and used.get(key, 0) >= limit:
            continue
        used[key] = used.get(key, 0) + 1
        taken.append(cand.id)
    return taken


@dataclass(frozen=True)
class ClaimRequest:
    environment: str
    worker_id: str
    queues: list[str] | None
    capacity: int
    lease_id: str
    lease_seconds: float


def claim(tx: Tx, req: ClaimRequest, now: float) -> list[Row]:
    """Start up to ``capacity`` runs; return their rows (status EXECUTING)."""
    answer = tx.all(
        "claim_unlimited",
        environment=req.environment,
        queues=req.queues,
        now=now,
        limit=req.capacity,
        lease_id=req.lease_id,
        lease_expires_at=now + req.lease_seconds,
        worker_id=req.worker_id,
    )
    started = [r for r in answer if r["id"] is not None]
    limited = not answer or answer[0].pop("limited_queues") > 0
    for row in started:
        row.pop("limited_queues", None)
    if not started and limited:
        started = _claim_counted(tx, req, now)
    started.sort(key=_claim_order)
    _record_starts(tx, started, req, now)
    return started


def _claim_order(row: Row) -> tuple[int, float, str]:
    return -int(row["priority"]), float(row["available_at"]), str(row["id"])


def _claim_counted(tx: Tx, req: ClaimRequest, now: float) -> list[Row]:
    """Claim where a queue's limit (or pause) applies: lock, count, then choose."""
    blocked = [r["name"] for r in tx.all("blocked_queues", environment=req.environment)]
    rows = tx.all(
        "claim_candidates",
        environment=req.environment,
        queues=req.queues,
        blocked=blocked,
        now=now,
        limit=req.capacity,
    )
    if not rows:
        return []
    candidates = [Candidate(r["id"], r["queue"], r["concurrency_key"]) for r in rows]
    limits, running = _limits(tx, req.environment, {c.queue for c in candidates})
    ids = choose(candidates, limits, running, req.capacity)
    if not ids:
        return []
    return tx.all(
        "start_runs",
        ids=ids,
        lease_id=req.lease_id,
        lease_expires_at=now + req.lease_seconds,
        worker_id=req.worker_id,
        now=now,
    )


def _limits(tx: Tx, env: str, queues: set[str]) -> tuple[dict[str, int], dict[Slot, int]]:
    names = sorted(queues)
    limit_rows = tx.all("lock_queue_limits", environment=env, names=names)
    limits = {r["name"]: int(r["concurrency_limit"]) for r in limit_rows}
    if not limits:
        return {}, {}
    running: dict[Slot, int] = {}
    for r in tx.all("executing_counts", environment=env, names=sorted(limits)):
        running[r["queue"]] = int(r["running"])
    for r in tx.all("executing_key_counts", environment=env, names=sorted(limits)):
        running[(r["queue"], r["concurrency_key"])] = int(r["running"])
        running[r["queue"]] -= int(r["running"])  # the queue's own slot counts keyless runs
    return limits, running


def _record_starts(tx: Tx, started: list[Row], req: ClaimRequest, now: float) -> None:
    if not started:
        return
    attempts: list[dict[str, Any]] = []
    evts: list[dict[str, Any]] = []
    for row in started:
        attempts.append({
            "run_id": row["id"], "number": row["attempt_count"], "lease_id": req.lease_id,
            "worker_id": req.worker_id, "machine": row["machine"], "started_at": now,
        })
        evts.append(events.event_row(row["id"], "start_attempt", now, RunStatus.EXECUTING.value,
                                     row["attempt_count"], worker_id=req.worker_id))
    tx.many("insert_attempt", attempts)
    events.append(tx, evts)
    for row in started:
        tx.notify(events.CHANGED_CHANNEL, row["id"])
