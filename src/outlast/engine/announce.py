"""Announcing due moments, so the upkeep holder's timer wakes for them on time.

The process that holds upkeep (``outlast/upkeep``) sleeps until the earliest due moment it
read from the store, and reads again at least every ``upkeep.RECHECK`` seconds. A moment
written by another transaction that is due sooner than that would be found late, so the
transaction that writes it announces it on ``DUE_CHANNEL`` (payload: the moment, engine
clock seconds); the holder wakes when an announced moment is earlier than the one it
sleeps to. Moments further off than ``ANNOUNCE_WITHIN`` are not announced: the holder's
next re-read finds them before they are due, and a batch of a thousand one-hour sleeps
sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from outlast.store.protocol import Tx

DUE_CHANNEL = "outlast_due"
#: seconds; more than the holder's longest sleep without a re-read (1 s)
ANNOUNCE_WITHIN = 2.0


def due(tx: Tx, due_at: float | None, now: float) -> None:
    """Tell the upkeep holder about ``due_at`` if its next re-read could come too late."""
    if due_at is not None and due_at - now < ANNOUNCE_WITHIN:
        tx.notify(DUE_CHANNEL, repr(float(due_at)))


def earliest_run_moment(rows: Iterable[dict[str, Any]]) -> float | None:
    """The earliest moment upkeep must act on one of these new runs: a delayed run's start,
    or any TTL's end."""
    moments = [r["available_at"] for r in rows if r.get("status") == "DELAYED"]
    moments += [r["expires_at"] for r in rows if r.get("expires_at") is not None]
    return min(moments, default=None)


def parse(payload: str) -> float | None:
    """The moment in a ``DUE_CHANNEL`` payload; None for anything else."""
    try:
        return float(payload)
    except ValueError:
        return None
