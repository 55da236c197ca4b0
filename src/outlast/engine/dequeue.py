"""Claiming runs for a worker, within queue limits, rate limits and the environment limit.

The decision of which candidates may start is a pure function (``flow.plan``), so it can
be tested on its own; ``claim`` gathers its inputs under the right locks and applies it.

Why it is safe with many workers: the controlled queues' rows (and the environment's
limit row) are locked before running runs and recent starts are counted, so two workers
can never both see the last free slot or the last unit of rate budget (PostgreSQL row
locks; on SQLite the whole transaction is ``BEGIN IMMEDIATE``). Candidates are
row-locked with ``SKIP LOCKED`` and started by an update guarded on ``QUEUED``.

A claim that a rate held back also says when to try again (``Claimed.retry_at``): the
earliest moment a start leaves one of the windows that turned its candidates away. Starts
by other workers never free budget, only time does, so a timer in each worker is enough.

Most environments have no limits at all; for them ``claim_unlimited`` picks and starts
runs in one statement. It refuses to claim anything while one of the worker's queues is
paused, limited or rated (or the environment has a limit), and the counting path below
takes over.

A worker claims as its code (``WorkerCode``): only runs pinned to its version, and
unpinned runs of the tasks ``core.versions.fresh_tasks`` gives it; what it starts is
pinned to its version. The fresh tasks are read inside the claim, not from a copy the
worker refreshes: the one-statement claim reads the current version in a CTE (two
primary-key reads, once per statement), and the counting path reads it once per claim
under the same transaction. So a promotion counts from the very next claim, a worker
never needs a timer for it, and no test waits a refresh interval. A claim with no code
(the testing harness, engine-level tests) takes any run, as before versions.
"""

from __future__ import annotations

from dataclasses import dataclass

from outlast.core.limits import Rate, opt_rate
from outlast.core.versions import RETIRED, fresh_tasks
from outlast.engine import flow, transitions, versions
from outlast.store.protocol import Row, Tx


@dataclass(frozen=True)
class WorkerCode:
    """The code a worker runs: its version and the ids of the tasks it has."""

    version: str
    tasks: tuple[str, ...]


@dataclass(frozen=True)
class ClaimRequest:
    environment: str
    worker_id: str
    queues: list[str] | None
    capacity: int
    lease_id: str
    lease_seconds: float
    #: the environment-wide limit when none was set through the API (settings)
    env_limit: int | None = None
    #: the claiming worker's code; None: no version filter (and no pinning)
    code: WorkerCode | None = None

    @property
    def version(self) -> str | None:
        return self.code.version if self.code is not None else None

    @property
    def tasks(self) -> list[str] | None:
        return list(self.code.tasks) if self.code is not None else None


@dataclass(frozen=True)
class Claimed:
    """The rows a claim started (status EXECUTING), and when a rate that held queued runs
    back has room again (None: no rate did; a completion or a trigger is what to wait for).

    Each row holds the columns a worker reads (``claimed_columns`` in
    ``store/queries.sql``), not the whole run: read the run for any other."""

    rows: list[Row]
    retry_at: float | None = None
    #: how many of ``rows``, the first ones, had started before this claim (resumed,
    #: retried, recovered): the worker hands them out ahead of fresh runs it holds
    resumed: int = 0


def claim(tx: Tx, req: ClaimRequest, now: float) -> Claimed:
    """Start up to ``capacity`` runs."""
    first = claim_unlimited(tx, req, now)
    return first if first is not None else claim_counted(tx, req, now)


def claim_unlimited(tx: Tx, req: ClaimRequest, now: float, *,
                    alone: bool = False) -> Claimed | None:
    """The one-statement claim, or None when the counting path must decide (a queue or
    the environment has a limit, or, on SQLite, nothing was started).

    ``alone``: the statement is the transaction's last (``Tx.alone``): on PostgreSQL it is
    then committed as it ends, so after None the counting path needs a transaction of its
    own (this one claimed nothing)."""
    if req.env_limit is not None:
        return None
    answer = transitions.claim_unlimited(
        tx, _lease(req, now), environment=req.environment, queues=req.queues,
        limit=req.capacity, now=now, version=req.version, tasks=req.tasks, alone=alone)
    started = [r for r in answer if r["id"] is not None]
    if not started and (not answer or answer[0]["limited_queues"] > 0):
        return None
    for row in answer:
        del row["limited_queues"]
    return _claimed(tx, req, started, None, logged=tx.compound_writes, now=now)


def claim_counted(tx: Tx, req: ClaimRequest, now: float) -> Claimed:
    """The claim where a limit, a rate or a pause applies: lock, count, then plan."""
    started, retry_at = _claim_counted(tx, req, now, req.env_limit)
    return _claimed(tx, req, started, retry_at, logged=False, now=now)


def _claimed(tx: Tx, req: ClaimRequest, started: list[Row], retry_at: float | None, *,
             logged: bool, now: float) -> Claimed:
    """The runs a claim started, in claim order, their start finished (``log_starts``)."""
    started.sort(key=lambda row: _claim_order(row, now))
    transitions.log_starts(tx, _lease(req, now), started, logged=logged, now=now)
    resumed = sum(float(row["started_at"]) < now for row in started)
    return Claimed(started, retry_at, resumed)


def _lease(req: ClaimRequest, now: float) -> transitions.Lease:
    return transitions.Lease(req.lease_id, req.worker_id, now + req.lease_seconds)


def _claim_order(row: Row, now: float) -> tuple[tuple[int, float], str]:
    """The claim order of a run this claim started (the worker hands runs out in it).

    The row is read after the start, which sets ``started_at`` only on a first start: a
    run started before this claim has an earlier one.
    """
    started = float(row["started_at"]) < now
    return flow.claim_rank(started, int(row["priority"]), float(row["available_at"])), \
        str(row["id"])


def _claim_counted(tx: Tx, req: ClaimRequest, now: float,
                   env_default: int | None) -> tuple[list[Row], float | None]:
    """Claim where a limit, a rate or a pause applies: lock, count, then plan."""
    env_room = _env_room(tx, req.environment, env_default, now)
    if env_room == 0:
        return [], None
    queues = _queue_states(tx, req, now)
    candidates = _candidates(tx, req, queues, _takes(tx, req), now)
    if not candidates:
        return [], None
    decided = flow.plan(candidates, queues, req.capacity, env_room)
    for name, cursor in decided.cursors.items():
        tx.run("set_key_cursor", environment=req.environment, name=name, cursor=cursor)
    retry_at = _retry_at(tx, req.environment, decided.waits, now)
    if not decided.ids:
        return [], retry_at
    rows = transitions.start_runs(tx, _lease(req, now), decided.ids, now, req.version)
    _log_rated_starts(tx, req.environment, rows, queues, now)
    return rows, retry_at


def _retry_at(tx: Tx, env: str, waits: list[flow.RateWait], now: float) -> float | None:
    """The earliest moment one of ``waits`` has room: its start at ``leaving`` leaves.

    Read before this claim logs its own starts, which ``flow.frees_at`` accounts for.
    """
    moments: list[float] = []
    for wait in waits:
        leaving_at = None
        if wait.leaving < wait.used:
            row = tx.one("window_start_at", environment=env, queue=wait.queue, key=wait.key,
                         since=now - wait.rate.window, skip=wait.leaving)
            leaving_at = float(row["at"]) if row is not None else None
        moments.append(flow.frees_at(wait, leaving_at, now))
    return min(moments, default=None)


def _env_room(tx: Tx, env: str, env_default: int | None, now: float) -> int | None:
    row = tx.one("lock_environment_limit", environment=env)
    if row is None and env_default is not None:
        tx.run("ensure_environment_row", environment=env, now=now)
        row = tx.one("lock_environment_limit", environment=env)
    stored = row["concurrency_limit"] if row is not None else None
    limit = int(stored) if stored is not None else env_default
    if limit is None:
        return None
    running = tx.one("executing_in_environment", environment=env)
    return max(limit - int(running["running"] if running else 0), 0)


def _queue_states(tx: Tx, req: ClaimRequest, now: float) -> dict[str, flow.QueueState]:
    rows = tx.all("lock_flow_queues", environment=req.environment, queues=req.queues)
    names = [r["name"] for r in rows if not r["paused"]]
    running = _running(tx, req.environment, names)
    states: dict[str, flow.QueueState] = {}
    for r in rows:
        rate, key_rate = opt_rate(r["rate_limit"]), opt_rate(r["key_rate_limit"])
        used, key_used = _window_use(tx, req.environment, r["name"], rate, key_rate, now)
        states[r["name"]] = flow.QueueState(
            name=r["name"], paused=bool(r["paused"]), limit=r["concurrency_limit"],
            total=r["total_limit"], rate=rate, key_rate=key_rate,
            running=running.get(r["name"], {}), rate_used=used, key_rate_used=key_used,
            cursor=r["key_cursor"])
    return states


def _running(tx: Tx, env: str, names: list[str]) -> dict[str, dict[str | None, int]]:
    if not names:
        return {}
    out: dict[str, dict[str | None, int]] = {}
    for r in tx.all("executing_counts", environment=env, names=names):
        out.setdefault(r["queue"], {})[None] = int(r["running"])
    for r in tx.all("executing_key_counts", environment=env, names=names):
        per_queue = out.setdefault(r["queue"], {})
        per_queue[r["concurrency_key"]] = int(r["running"])
        per_queue[None] = per_queue.get(None, 0) - int(r["running"])  # keyless = total - keyed
    return out


def _window_use(tx: Tx, env: str, queue: str, rate: Rate | None,
                key_rate: Rate | None, now: float) -> tuple[int, dict[str, int]]:
    """Starts inside each window of the sliding-window log (pruned of older starts)."""
    windows = [r.window for r in (rate, key_rate) if r is not None]
    if not windows:
        return 0, {}
    tx.run("prune_queue_starts", environment=env, queue=queue, before=now - max(windows))
    used = 0
    if rate is not None:
        rows = tx.all("queue_window_starts", environment=env, queue=queue,
                      since=now - rate.window)
        used = sum(int(r["n"]) for r in rows)
    key_used: dict[str, int] = {}
    if key_rate is not None:
        rows = tx.all("queue_window_starts", environment=env, queue=queue,
                      since=now - key_rate.window)
        key_used = {r["concurrency_key"]: int(r["n"]) for r in rows if r["concurrency_key"]}
    return used, key_used


def _takes(tx: Tx, req: ClaimRequest) -> dict[str, object]:
    """The version filter's parameters for the counting path's candidate queries: the
    worker's version and tasks, and the tasks whose unpinned runs it takes, read once."""
    code = req.code
    if code is None:
        return {"version": None, "tasks": None, "fresh": None}
    env = req.environment
    fresh: frozenset[str] = frozenset()
    if versions.state_of(tx, env, code.version) != RETIRED:
        current = versions.current(tx, env)
        theirs = versions.task_ids(tx, env, current) \
            if current is not None and current != code.version else []
        fresh = fresh_tasks(code.version, code.tasks, current, theirs)
    return {"version": code.version, "tasks": list(code.tasks), "fresh": sorted(fresh)}


def _candidates(tx: Tx, req: ClaimRequest, queues: dict[str, flow.QueueState],
                takes: dict[str, object], now: float) -> list[flow.Candidate]:
    """Heads of each open controlled queue, the next keys in turn, and the other queues."""
    rows: dict[str, Row] = {}
    env, limit = req.environment, req.capacity
    for q in queues.values():
        if q.paused or _at_total(q):
            continue
        if not _within_rate(q):  # one head, only to learn whether the rate holds a run back
            rows.update((r["id"], r) for r in tx.all(
                "queue_candidates", environment=env, queue=q.name, now=now, limit=1, **takes))
            continue
        for r in tx.all("queue_candidates", environment=env, queue=q.name, now=now,
                        limit=limit, **takes):
            rows[r["id"]] = r
        # every controlled queue takes turns between its keys: a queue-wide rate or total
        # cap serves only a few runs per claim, and the oldest runs by themselves could
        # all belong to the keys served last time
        if q.limit is not None or q.key_rate is not None or q.rate is not None \
                or q.total is not None:
            for r in _key_heads(tx, env, q, now, limit, takes):
                rows[r["id"]] = r
    if req.queues is None or any(name not in queues for name in req.queues):
        for r in tx.all("other_candidates", environment=env, queues=req.queues,
                        controlled=sorted(queues), now=now, limit=limit, **takes):
            rows[r["id"]] = r
    return [_candidate(r) for r in rows.values()]


def _candidate(row: Row) -> flow.Candidate:
    started = row["started_at"] is not None
    _, score = flow.claim_rank(started, int(row["priority"]), float(row["available_at"]))
    return flow.Candidate(row["id"], row["queue"], row["concurrency_key"], score, started)


def _at_total(q: flow.QueueState) -> bool:
    """The whole queue is at its total cap: none of its runs can start."""
    return q.total is not None and sum(q.running.values()) >= q.total


def _within_rate(q: flow.QueueState) -> bool:
    """The queue's window has budget left (or it has no rate)."""
    return q.rate is None or q.rate_used < q.rate.count


def _key_heads(tx: Tx, env: str, q: flow.QueueState, now: float, limit: int,
               takes: dict[str, object]) -> list[Row]:
    """The first run of the next ``limit`` keys after the cursor, wrapping to the start."""
    after = q.cursor or ""
    found = tx.all("key_heads", environment=env, queue=q.name, after=after, now=now,
                   limit=limit, **takes)
    if len(found) < limit and after:
        seen = {r["id"] for r in found}
        found += [r for r in tx.all("key_heads", environment=env, queue=q.name, after="",
                                    now=now, limit=limit, **takes) if r["id"] not in seen]
    return found


def _log_rated_starts(tx: Tx, env: str, rows: list[Row], queues: dict[str, flow.QueueState],
                      now: float) -> None:
    log = [{"environment": env, "queue": r["queue"], "concurrency_key": r["concurrency_key"] or "",
            "at": now}
           for r in rows
           if r["queue"] in queues and (queues[r["queue"]].rate or queues[r["queue"]].key_rate)]
    if log:
        tx.many("insert_queue_start", log)

