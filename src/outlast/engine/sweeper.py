"""Time-driven upkeep: due delayed runs, TTL expiry, and runs whose worker vanished.

Runs forever in whichever process holds the ``sweeper`` leader lease (a server or a
worker: ``outlast/upkeep``), so recovery never depends on a process starting up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from outlast.core.outcomes import Outcome
from outlast.engine import transitions, waitpoints
from outlast.errors import InvalidTransitionError
from outlast.store.protocol import Row, Tx

BATCH = 500


@dataclass
class SweepReport:
    enqueued: int = 0
    expired: int = 0
    recovered: int = 0
    woken: int = 0

    @property
    def total(self) -> int:
        return self.enqueued + self.expired + self.recovered + self.woken


def enqueue_due(tx: Tx, now: float) -> int:
    ids = [r["id"] for r in tx.all("due_delayed", now=now, limit=BATCH)]
    return sum(transitions.enqueue_delayed(tx, run_id, now) for run_id in ids)


def expire_due(tx: Tx, now: float, hook_for: Callable[[Row], str | None]) -> int:
    """QUEUED/DELAYED runs whose TTL ran out before they started become EXPIRED."""
    count = 0
    for row in tx.all("due_expired", now=now, limit=BATCH):
        try:
            transitions.end_inactive(
                tx, run_id=row["id"], transition="expire", now=now,
                error={"type": "Expired", "message": "the run did not start within its ttl"},
                hook=hook_for(row),
            )
            count += 1
        except InvalidTransitionError:
            continue
        # A parent blocked in trigger_and_wait on this run must resume like for any other
        # final status; without this an expired child left its parent WAITING forever.
        final = tx.one("lock_run", id=row["id"])
        if final is not None and final.get("parent_id"):
            waitpoints.on_run_final(tx, final, now)
    return count


def next_due(tx: Tx) -> float | None:
    """The next moment a sweep or a cron tick has work (engine clock), or None: the
    upkeep holder sleeps until then. Alerts keep their own pace (``upkeep/alerting.py``)."""
    row = tx.one("upkeep_next_due")
    return None if row is None or row["at"] is None else float(row["at"])


def lapsed(tx: Tx, now: float) -> list[Row]:
    return tx.all("lapsed_leases", now=now, limit=BATCH)


def lost_worker_outcome(row: Row, executed: float = 0.0) -> Outcome:
    """An attempt whose worker stopped heartbeating counts as a crash; ``executed``
    (``lost_attempt_seconds``) is charged like any attempt's time."""
    return Outcome(
        run_id=row["id"],
        lease_id=row["lease_id"],
        attempt=row["attempt_count"],
        kind="crashed",
        executed=executed,
        error={
            "type": "WorkerLost",
            "message": f"worker {row['worker_id']} stopped heartbeating; the attempt was lost",
        },
    )


def lost_attempt_seconds(tx: Tx, row: Row, lease_seconds: float) -> float:
    """How long a lost attempt is known to have run: from its start to its worker's last
    heartbeat (each one renews the lease for ``lease_seconds``). No worker reports it."""
    started = [a["started_at"] for a in tx.all("list_attempts", run_id=row["id"])
               if a["number"] == row["attempt_count"]]
    if not started or row.get("lease_expires_at") is None:
        return 0.0
    return max(0.0, float(row["lease_expires_at"]) - lease_seconds - float(started[0]))
