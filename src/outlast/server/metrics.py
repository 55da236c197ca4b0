"""``GET /metrics``: the platform's numbers in the Prometheus text format (0.0.4).

Who may read: a full or read API key (``Authorization: Bearer <key>``, what Prometheus'
``authorization`` scrape setting sends) reads its own environment's series. With
``metrics_public = true`` in ``outlast.toml`` (or ``OUTLAST_METRICS_PUBLIC=1``) the page
needs no key and shows every environment: for a scraper inside a private network.

What it says, each series labelled with its ``environment``:

- gauges read from the database at each scrape (``engine/metrics.py``): live runs by
  task and status, queue depth and the age of its oldest claimable run, live workers by
  code version, worker slots busy and free, pending waits by kind; and the upkeep lag;
- counters and histograms this process builds from the run events it follows from its
  first scrape on: runs finished by task and status, attempts started, run durations
  (execution time, waits excluded) and queue waits. Every server follows every run of the
  database, so two servers report the same events: aggregate them with ``max``, not
  ``sum``. A restart starts them from zero, which ``rate()`` reads as a counter reset.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from outlast.core import prometheus as prom
from outlast.core.key_scopes import READ
from outlast.engine import Engine
from outlast.engine import database_size as sizes
from outlast.engine import metrics as data
from outlast.server.auth import Authenticator
from outlast.server.errors import Endpoint
from outlast.upkeep.leader import LEASE_NAME, LEASE_TTL

ENV = "environment"
#: waitpoint kinds as operators call them
WAIT_KINDS = {"time": "sleep", "token": "token", "run": "children"}
#: seconds a reading of the table sizes is kept: SQLite reads every page to answer
SIZES_EVERY = 60.0


class ServerMetrics:
    """The page, and what this process keeps between scrapes."""

    def __init__(self, engine: Engine, auth: Authenticator, *, public: bool = False) -> None:
        self.engine, self.auth, self.public = engine, auth, public
        self.feed = data.EventFeed(engine)
        self.finished = prom.Counter(
            "outlast_runs_finished_total", "Runs that reached a final status, by task and "
            "status, since this server's first scrape.", (ENV, "task", "status"))
        self.attempts = prom.Counter(
            "outlast_attempts_started_total", "Attempts started (first tries, retries, "
            "resumes), by task, since this server's first scrape.", (ENV, "task"))
        self.durations = prom.Histogram(
            "outlast_run_duration_seconds", "Execution time of finished runs that started "
            "(waits excluded), by task.", (ENV, "task"))
        self.queue_waits = prom.Histogram(
            "outlast_queue_wait_seconds", "Seconds from a run becoming claimable to its "
            "attempt starting, by queue.", (ENV, "queue"))
        self._sizes: tuple[float, sizes.DatabaseSize] | None = None

    def page(self, authorization: str | None) -> str:
        """The text a scrape gets (AuthError without a valid key unless public)."""
        envs = data.environments(self.engine) if self.public \
            else [self.auth.environment(authorization, READ, "GET /metrics")]
        self.follow()
        families = [*self._counts(envs), self._upkeep_lag(), *self._database(envs),
                    *(_only(f, envs) for f in self._kept())]
        return prom.render(families)

    def follow(self) -> None:
        """Fold the run events since the last scrape into the counters and histograms."""
        for row in self.feed.read():
            env, task = str(row["environment"]), str(row["task_id"])
            if row["kind"] == data.START_KIND:
                self.attempts.inc(env, task)
                wait = data.queue_wait(row)
                if wait is not None:
                    self.queue_waits.observe(wait, env, str(row["queue"]))
            elif data.is_finish(row):
                self.finished.inc(env, task, str(row["status"]))
                if row["started_at"] is not None:
                    self.durations.observe(float(row["execution_seconds"]), env, task)

    def _kept(self) -> list[prom.Family]:
        return [self.finished.family(), self.attempts.family(), self.durations.family(),
                self.queue_waits.family()]

    def _counts(self, envs: list[str]) -> list[prom.Family]:
        counts = [data.read_counts(self.engine, env) for env in envs]
        return count_families(counts, self.engine.clock.now())

    def _database(self, envs: list[str]) -> list[prom.Family]:
        now = self.engine.clock.now()
        if self._sizes is None or now - self._sizes[0] >= SIZES_EVERY:
            self._sizes = (now, sizes.table_sizes(self.engine))
        oldest = [sizes.oldest_finished(self.engine, env) for env in envs]
        return database_families(self._sizes[1], oldest, now)

    def _upkeep_lag(self) -> prom.Family:
        expiry = data.lease_expiry(self.engine, LEASE_NAME)
        return prom.gauge("outlast_upkeep_lag_seconds", UPKEEP_HELP,
                          [({}, upkeep_lag(expiry, self.engine.clock.now()))])


UPKEEP_HELP = ("Seconds since the upkeep (sweeper and scheduler) last renewed its lease, "
               "which it does every few seconds between passes; +Inf when no process holds "
               "it.")


def upkeep_lag(expiry: float | None, now: float) -> float:
    """The upkeep holder renews its lease to ``now + LEASE_TTL`` a third of a ttl apart,
    only from its loop: a holder stuck in a pass, or gone, stops renewing."""
    if expiry is None:
        return float("inf")
    return max(0.0, now - (expiry - LEASE_TTL))


def count_families(counts: list[data.Counts], now: float) -> list[prom.Family]:
    """The gauges of every environment's ``Counts``."""
    return [
        prom.gauge("outlast_runs", "Runs in a live status, by task and status.",
                   [({ENV: c.environment, "task": t, "status": s}, n)
                    for c in counts for t, s, n in c.runs]),
        prom.gauge("outlast_queue_depth", "QUEUED runs, by queue.",
                   [({ENV: c.environment, "queue": q}, n)
                    for c in counts for q, n, _ in c.queues]),
        prom.gauge("outlast_queue_oldest_age_seconds",
                   "Seconds the queue's longest-waiting claimable run has waited (0 when "
                   "none waits).",
                   [({ENV: c.environment, "queue": q}, _age(oldest, now))
                    for c in counts for q, _, oldest in c.queues]),
        prom.gauge("outlast_workers", "Live workers (a heartbeat within a minute), by the "
                   "code version they run.",
                   [({ENV: c.environment, "version": v}, n)
                    for c in counts for v, n, _ in c.workers]),
        prom.gauge("outlast_worker_slots", "Attempts live workers can run at once: busy "
                   "(EXECUTING runs) and free.", _slots(counts)),
        prom.gauge("outlast_waits", "Pending waits, by kind: sleep, token, children.",
                   [({ENV: c.environment, "kind": WAIT_KINDS.get(k, k)}, n)
                    for c in counts for k, n in sorted(c.waits.items())]),
    ]


ROWS_HELP = ("Rows of a run table: SQLite counts them; PostgreSQL's estimate from its last "
             "VACUUM or ANALYZE (no sample before the first).")


def database_families(size: sizes.DatabaseSize, oldest: list[sizes.OldestFinished],
                      now: float) -> list[prom.Family]:
    """The table sizes and each environment's oldest finished run (none where nothing
    finished is kept)."""
    return [
        prom.gauge("outlast_table_bytes", "Bytes of a run table with its indexes.",
                   [({"table": t.table}, t.bytes) for t in size.tables]),
        prom.gauge("outlast_table_rows", ROWS_HELP,
                   [({"table": t.table}, t.rows) for t in size.tables if t.rows is not None]),
        prom.gauge("outlast_oldest_finished_run_age_seconds",
                   "Seconds since the oldest finished run retention keeps finished.",
                   [({ENV: o.environment}, age) for o in oldest
                    if (age := o.age(now)) is not None]),
    ]


def _slots(counts: list[data.Counts]) -> Iterable[tuple[dict[str, str], float]]:
    for c in counts:
        total = sum(slots for _, _, slots in c.workers)
        yield {ENV: c.environment, "state": "busy"}, c.executing
        yield {ENV: c.environment, "state": "free"}, max(0, total - c.executing)


def _age(oldest: float | None, now: float) -> float:
    return 0.0 if oldest is None else max(0.0, now - oldest)


def _only(family: prom.Family, envs: list[str]) -> prom.Family:
    """``family`` with the series of ``envs`` only (a key reads its own environment)."""
    wanted = set(envs)
    return prom.Family(family.name, family.kind, family.help, tuple(
        s for s in family.samples if dict(s.labels).get(ENV) in wanted))


def metrics_endpoint(metrics: ServerMetrics) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        text = await run_in_threadpool(metrics.page, request.headers.get("authorization"))
        return Response(text, media_type=prom.CONTENT_TYPE)

    return endpoint

