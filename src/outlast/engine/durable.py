"""Durable operations of a running attempt: journal writes, waits and child runs.

Each function runs inside one transaction that first checks the attempt still holds
its run's lease, then writes the journal entry (and any waitpoints or child runs) for
sequence number ``seq``. The answer tells the attempt either the result (``done``) or
that it must suspend until the wait completes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from outlast.core.definitions import TaskDefinition
from outlast.core.durable_requests import Op as Op  # where a request's answer goes
from outlast.engine import journal, transitions, waitpoints
from outlast.engine.blobs import Blobs
from outlast.engine.triggering import NewRun, trigger_many
from outlast.errors import ConflictError, ValidationError
from outlast.store.protocol import Row, Tx


def done(result: Any) -> dict[str, Any]:
    return {"done": True, "result": result}


SUSPEND: dict[str, Any] = {"done": False}


def record(tx: Tx, op: Op, result: Any, now: float,
           started: float | None = None) -> dict[str, Any]:
    """A durable operation that completed in the attempt (a step, a trigger, a key);
    ``started`` when it began, if it took a while (the trace shows how long)."""
    journal.hold_lease(tx, op.run_id, op.lease_id)
    journal.record(tx, op.run_id, op.seq, op.kind, op.name, now, result=result,
                   started=started)
    return done(result)


def record_many(tx: Tx, items: list[tuple[Op, Any, float | None]], now: float, *,
                drop_stale: bool = False) -> list[bool]:
    """``record`` for several operations ``(op, result, started)`` of any attempts: their
    leases checked in one statement and their entries written together; which were
    written. An attempt that lost its lease fails them all (InvalidTransitionError), or,
    with ``drop_stale``, has only its own left out."""
    attempts = {(op.run_id, op.lease_id) for op, _, _ in items}
    if drop_stale:
        held = journal.held_leases(tx, attempts)
        written = [(op.run_id, op.lease_id) in held for op, _, _ in items]
    else:
        journal.hold_leases(tx, attempts)
        written = [True] * len(items)
    journal.record_done(tx, [(op.run_id, op.seq, op.kind, op.name, result,
                              now if started is None else started)
                             for (op, result, started), write in zip(items, written,
                                                                     strict=True) if write],
                        now)
    return written


#: Waits shorter than this are passed in the attempt's process instead of suspending.
IN_PROCESS_WAIT = 5.0


def sleep_until(tx: Tx, op: Op, until: float, now: float) -> dict[str, Any]:
    """Past: done. Under five seconds away: the attempt pauses itself. Else: suspend."""
    run = journal.hold_lease(tx, op.run_id, op.lease_id)
    if until <= now:
        return record(tx, op, {"until": until}, now)
    if until - now < IN_PROCESS_WAIT:
        return {"done": False, "pause": until - now, "until": until}
    journal.record(tx, op.run_id, op.seq, op.kind, op.name, now, status=journal.PENDING)
    waitpoints.create(tx, environment=run["environment"], kind=waitpoints.TIME, now=now,
                      run_id=op.run_id, seq=op.seq, due_at=until)
    return SUSPEND


def create_token(tx: Tx, op: Op, *, timeout: float | None, tags: list[str],
                 idempotency_key: str | None, now: float, public_url: str,
                 token_key: bytes) -> dict[str, Any]:
    """A token made by a run: the answer holds its URL, the journal does not (the URL
    holds the secret); replay rebuilds it from the id (``waitpoints.with_url``)."""
    run = journal.hold_lease(tx, op.run_id, op.lease_id)
    row = new_token(tx, run["environment"], timeout=timeout, tags=tags,
                    idempotency_key=idempotency_key, now=now, created_by_run=op.run_id,
                    token_key=token_key)
    result = waitpoints.token_record(row, public_url, token_key)
    journal.record(tx, op.run_id, op.seq, op.kind, op.name, now,
                   result=waitpoints.journal_record(result))
    return done(result)


def new_token(tx: Tx, environment: str, *, timeout: float | None, tags: list[str],
              idempotency_key: str | None, now: float, token_key: bytes,
              created_by_run: str | None = None) -> Row:
    """A token waitpoint; an idempotency key returns the existing token instead."""
    if idempotency_key:
        existing = tx.one("find_idempotent_waitpoint", environment=environment,
                          idempotency_key=idempotency_key)
        if existing is not None:
            return existing
    return waitpoints.create(tx, environment=environment, kind=waitpoints.TOKEN, now=now,
                             due_at=None if timeout is None else now + timeout, tags=tags,
                             idempotency_key=idempotency_key, created_by_run=created_by_run,
                             token_key=token_key)


def wait_for_token(tx: Tx, op: Op, token_id: str, now: float) -> dict[str, Any]:
    run = journal.hold_lease(tx, op.run_id, op.lease_id)
    token = waitpoints.get(tx, token_id, run["environment"])
    if token["kind"] != waitpoints.TOKEN:
        raise ValidationError(f"{token_id} is not a token")
    if token["status"] == waitpoints.COMPLETED:
        return record(tx, op, waitpoints.result_of([token]), now)
    if token["run_id"] not in (None, op.run_id):
        raise ConflictError(f"token {token_id} is already awaited by run {token['run_id']}")
    journal.record(tx, op.run_id, op.seq, op.kind, op.name, now, status=journal.PENDING)
    tx.run("block_on_waitpoint", id=token_id, run_id=op.run_id, seq=op.seq)
    return SUSPEND


def trigger_children(tx: Tx, op: Op, items: list[tuple[TaskDefinition, NewRun]], *,
                     wait: bool, batch: bool, now: float,
                     blobs: Blobs | None = None) -> dict[str, Any]:
    """Trigger child runs; with ``wait``, block on all of them (results in input order)."""
    run = journal.hold_lease(tx, op.run_id, op.lease_id)
    env = run["environment"]
    root = run["root_id"] or run["id"]
    linked = [(d, _as_child(r, run["id"], root)) for d, r in items]
    triggered = trigger_many(tx, env, linked, now, blobs)
    ids = [t.row["id"] for t in triggered]
    if not wait:
        return record(tx, op, {"ids": ids}, now)
    journal.record(tx, op.run_id, op.seq, op.kind, op.name, now, status=journal.PENDING)
    for idx, child_id in enumerate(ids):
        waitpoints.create(tx, environment=env, kind=waitpoints.RUN, now=now, run_id=op.run_id,
                          seq=op.seq, idx=idx, child_run_id=child_id,
                          tags=["batch"] if batch else [])
    for t in triggered:
        if not t.created:  # an idempotent twin may already be final
            waitpoints.on_run_final(tx, tx.one("lock_run", id=t.row["id"]) or t.row, now)
    return SUSPEND | {"ids": ids}


def _as_child(req: NewRun, parent_id: str, root_id: str) -> NewRun:
    return replace(req, parent_id=parent_id, root_id=root_id, replayed_from=None)


def after_suspend(tx: Tx, run_id: str, now: float) -> None:
    """Settle waits that completed while the attempt was suspending (or resume at once)."""
    pending = [r["seq"] for r in tx.all("pending_journal", run_id=run_id)]
    for seq in pending:
        waitpoints.settle(tx, run_id, seq, now)
    if not pending:
        transitions.resume(tx, run_id=run_id, now=now)
