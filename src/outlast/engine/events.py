"""Run events: the timeline the dashboard draws, the feed realtime subscribers get,
and what tests assert on. Always appended in the transaction that made the change."""

from __future__ import annotations

from typing import Any

from outlast.jsonutil import dumps
from outlast.store.protocol import Tx

#: NOTIFY channels. ``runs_queued`` wakes idle workers; ``run_changed`` feeds realtime.
QUEUED_CHANNEL = "outlast_queued"
CHANGED_CHANNEL = "outlast_changed"
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
        "data": dumps(data, "event data"),
    }


def append(tx: Tx, rows: list[dict[str, Any]]) -> None:
    tx.many("insert_event", rows)


def run_changed(tx: Tx, row: dict[str, Any], kind: str, at: float, **data: Any) -> None:
    """Record a change to a run that leaves its status as it is (metadata, tags), and
    wake its realtime subscribers."""
    append(tx, [event_row(row["id"], kind, at, row["status"], row["attempt_count"], **data)])
    tx.notify(CHANGED_CHANNEL, row["id"])
