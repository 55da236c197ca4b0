"""What ``GET /metrics`` reads about runs: counts of live rows, and events followed.

Two sources, each chosen for its cost beside a million finished runs:

- **Counts** (runs by task and live status, queue depth and age, workers and their
  slots, pending waits) are read at each scrape, through status and partial indexes
  (the ``metrics_*`` queries): their cost follows the live runs, never the history.
- **Events** (runs finished, attempts started, run durations, queue waits) are followed
  from where this process first looked, like the alert outbox follows failures: each
  scrape reads the run events written since the one before, a range of the primary key.
  What a process builds from them (``server/metrics.py``) counts from zero when it
  starts, which is what Prometheus expects of a counter after a restart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from outlast.engine import events, versions
from outlast.engine.statuses import FINAL, RunStatus
from outlast.store.protocol import Row

if TYPE_CHECKING:
    from outlast.engine import Engine

LIVE_STATUSES: tuple[str, ...] = tuple(s.value for s in RunStatus if s not in FINAL)
#: ids read per step, and steps per scrape: a scrape after a long pause reads at most
#: this many events and leaves the rest to the next one (counters catch up, late)
BATCH = 5000
MAX_BATCHES = 10
START_KIND = "start_attempt"


@dataclass(frozen=True)
class Counts:
    """One environment's live numbers, read in one transaction."""

    environment: str
    #: (task id, status, runs)
    runs: list[tuple[str, str, int]] = field(default_factory=list)
    #: (queue, QUEUED runs, the earliest moment one became claimable or None)
    queues: list[tuple[str, int, float | None]] = field(default_factory=list)
    #: (code version, live workers, their slots)
    workers: list[tuple[str, int, int]] = field(default_factory=list)
    executing: int = 0
    #: waitpoint kind (time, token, run) → pending waitpoints
    waits: dict[str, int] = field(default_factory=dict)


def environments(engine: Engine) -> list[str]:
    """Environments with a queue or a live worker, sorted."""
    with engine.store.transaction(write=False) as tx:
        return sorted({str(r["environment"]) for r in tx.all("metrics_environments")})


def read_counts(engine: Engine, env: str) -> Counts:
    since = engine.clock.now() - versions.LIVE_AFTER  # as the Workers page counts them
    with engine.store.transaction(write=False) as tx:
        runs = [(r["task_id"], r["status"], int(r["n"]))
                for r in tx.all("metrics_live_runs", environment=env)]
        queues = [(r["name"], int(r["depth"]), _float(r["oldest"]))
                  for r in tx.all("metrics_queues", environment=env)]
        workers = [(r["version"], int(r["n"]), int(r["slots"] or 0))
                   for r in tx.all("metrics_workers", environment=env, since=since)]
        executing = tx.one("executing_in_environment", environment=env)
        waits = {r["kind"]: int(r["n"]) for r in tx.all("metrics_waits", environment=env)}
    return Counts(env, sorted(runs), queues, sorted(workers),
                  int(executing["running"]) if executing else 0, waits)


def lease_expiry(engine: Engine, name: str) -> float | None:
    """When the leader lease ``name`` runs out (its holder renews it while it works);
    None when nobody holds it (never taken, or handed back at a clean stop)."""
    with engine.store.transaction(write=False) as tx:
        row = tx.one("metrics_lease", name=name)
    return None if row is None else float(row["expires_at"])


class EventFeed:
    """Run events since this feed first looked: attempt starts and run ends, each row
    with its run's task, queue, status and times (``metrics_events``).

    The first ``read`` only notes where the events end, so what is built from the feed
    counts from the process's first scrape on. Safe to call from several threads: the
    cursor moves under a lock, so each event is handed out once.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._cursor: int | None = None
        self._lock = threading.Lock()

    def read(self) -> list[Row]:
        now = self._engine.clock.now()
        serial = self._engine.store.serial_writes
        with self._lock, self._engine.store.transaction(write=False) as tx:
            if self._cursor is None:
                top = tx.one("realtime_max_event")
                self._cursor = int(top["id"] or 0) if top else 0
                return []
            rows: list[Row] = []
            for _ in range(MAX_BATCHES):
                start = self._cursor
                upto = events.settled_upto(tx, start, now, batch=BATCH, serial_writes=serial)
                if upto <= start:
                    break
                rows.extend(tx.all("metrics_events", after=start, upto=upto))
                self._cursor = upto
                if upto < start + BATCH:
                    break
            return rows


def is_finish(row: Row) -> bool:
    return row["kind"] != START_KIND and row["status"] in {s.value for s in FINAL}


def queue_wait(row: Row) -> float | None:
    """Seconds an attempt's run waited to be claimed, from a ``start_attempt`` row: from
    when it last became claimable (queued, or its retry's backoff ended) to the start.

    None when the run was queued again since that start (its times are the later
    queueing's, no longer this start's): such a start is not measured.
    """
    queued_at = _float(row["queued_at"])
    if queued_at is None or queued_at > row["at"]:
        return None
    ready = max(queued_at, _float(row["available_at"]) or queued_at)
    return max(0.0, float(row["at"]) - ready)


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
