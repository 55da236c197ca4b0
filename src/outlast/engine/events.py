"""Run events: the timeline the dashboard draws, the feed realtime subscribers get,
and what tests assert on. Always appended in the transaction that made the change."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from outlast.jsonutil import dumps
from outlast.store.protocol import Tx

#: NOTIFY channel: a run became claimable, wakes idle workers (payload: a queue name or
#: run id, ``*`` for any queue)
QUEUED_CHANNEL = "outlast_queued"
#: NOTIFY channel: a run changed, feeds realtime subscribers (payload: the run id, or the
#: ids of several runs separated by spaces: ``runs_changed``, read by ``changed_ids``)
CHANGED_CHANNEL = "outlast_changed"
#: the most characters of run ids one note carries (PostgreSQL refuses a payload of
#: 8,000 bytes; ids are ASCII)
CHANGED_NOTE_CHARS = 7000
#: NOTIFY channel: a run was canceled, a worker running it kills the attempt (payload:
#: the run id). The others: ``realtime.STREAM_CHANNEL``, ``announce.DUE_CHANNEL``.
CANCEL_CHANNEL = "outlast_cancel"


def event_row(
    run_id: str,
    kind: str,
    at: float,
    status: str | None = None,
    attempt: int | None = None,
    **data: Any,
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "at": at,
        "kind": kind,
        "status": status,
        "attempt": attempt,
        "data": dumps(data, "event data") if data else "{}",
    }


def append(tx: Tx, rows: list[dict[str, Any]]) -> None:
    tx.many("insert_event", rows)


def next_id(tx: Tx) -> Callable[[], int]:
    """An event id taken now, below every event id taken after it: a bulk load's shared
    ``created`` event, which its runs hold and no row has (the timeline makes it of
    their rows). Read when first asked for: PostgreSQL asks for it with the load
    (``Tx.one_deferred``)."""
    answer = tx.one_deferred("next_event_id")

    def event_id() -> int:
        row = answer()
        assert row is not None
        return int(row["id"])
    return event_id


def run_changed(tx: Tx, row: dict[str, Any], kind: str, at: float, **data: Any) -> None:
    """Record a change to a run that leaves its status as it is (metadata, tags), and
    wake its realtime subscribers."""
    append(tx, [event_row(row["id"], kind, at, row["status"], row["attempt_count"], **data)])
    tx.notify(CHANGED_CHANNEL, row["id"])


def runs_changed(tx: Tx, run_ids: Iterable[str]) -> None:
    """Wake the realtime subscribers of many runs: their ids, as many to a note as fit.

    PostgreSQL queues each note at commit, a tenth of what inserting a run costs it: a
    batch of 1,000 new runs sends five notes instead of 1,000 (``bench/bulk_interleaved``).
    """
    note: list[str] = []
    size = 0
    for run_id in run_ids:
        if note and size + len(run_id) > CHANGED_NOTE_CHARS:
            tx.notify(CHANGED_CHANNEL, " ".join(note))
            note, size = [], 0
        note.append(run_id)
        size += len(run_id) + 1
    if note:
        tx.notify(CHANGED_CHANNEL, " ".join(note))


def changed_ids(payload: str) -> list[str]:
    """The run ids of a ``CHANGED_CHANNEL`` note."""
    return payload.split(" ")


#: how old an event must be before a cursor passes it where ids can commit out of order
SETTLE_SECONDS = 2.0


def settled_upto(tx: Tx, cursor: int, now: float, *, batch: int, serial_writes: bool) -> int:
    """How far a reader following run events from ``cursor`` may move now (at most
    ``batch`` ids).

    On PostgreSQL an event id is taken at insert but seen at commit, so a lower id can
    appear after a higher one: the cursor only passes events a few seconds old, whose
    transactions have long committed. A store whose writers commit one at a time, in
    id order (SQLite), has no such gap.
    """
    if serial_writes:
        top = tx.one("realtime_max_event")
        return min(cursor + batch, int(top["id"] or 0) if top else cursor)
    row = tx.one("settled_max_event", after=cursor, upto=cursor + batch,
                 settled=now - SETTLE_SECONDS)
    return int(row["id"]) if row and row["id"] is not None else cursor
