"""Flow control policies: which queued runs may start now. Pure functions, no store.

The claim (``dequeue``) gathers a queue's state under its lock and asks ``plan`` which
candidates start; the rules live here so they are tested as tables and as a state
machine (tests/flow/).

Rules, in the order they are checked for each candidate:

- a paused queue starts nothing;
- the environment-wide limit caps EXECUTING runs across all queues;
- ``total_limit`` caps a queue's EXECUTING runs across all its concurrency keys;
- ``concurrency_limit`` caps EXECUTING runs per slot: the queue's own slot for runs
  without a concurrency key, one slot per key otherwise;
- ``rate_limit`` allows at most N starts of the queue in any window of W seconds, and
  ``key_rate_limit`` at most N starts per concurrency key (a sliding window over the
  queue's start log);
- at most ``capacity`` runs per claim.

When a rate turns candidates away, the plan says so (``Plan.waits``): unlike a pause or a
concurrency limit, which free through an action or a completion, a rate frees with time
alone, at a moment the claim can compute (``frees_at``) and hand to the worker.

Order. Within one key (or among a queue's keyless runs), runs that already started go
first: a run resumed after a wait, retried, or put back after its worker was lost is work
in progress, and a fresh run that overtook it would make it late (a sleep of 30 s that
resumes seconds late). They go in the order they became due (``available_at``): the one
due first is the one already latest. Fresh runs follow, by aged priority:
``effective priority = priority + waited_seconds / AGING_SECONDS``, so one priority point
is worth a minute of waiting and a low-priority run is overtaken by at most those
triggered less than ``(p_high - p_low)`` minutes after it (``claim_rank``).

Why fresh runs do not starve: the queue's limits, key turns and rates hold for started
runs exactly as for fresh ones, and a started run comes back only after it made progress
(a wait ended, a backoff passed, a worker was lost) and takes one slot. Fresh runs get
every slot the started runs do not need; only when work already in progress fills a
queue by itself do fresh runs wait, and starting new work then would only make all of
it later.

Across the keys of a queue, keys take turns (round robin from a cursor kept on the queue
row), so a key with few runs is never stuck behind another key's backlog: with K keys
holding ready runs, a key's next run waits for at most K - 1 starts of other keys of that
queue once a slot is free.
Across queues, claims also take turns, best head first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from outlast.core.limits import Rate

#: seconds of waiting worth one point of priority (also fixed in the claim indexes)
AGING_SECONDS = 60


def effective_priority(priority: int, waited: float) -> float:
    """The priority a queued run competes with after ``waited`` seconds in the queue."""
    return priority + max(waited, 0.0) / AGING_SECONDS


def aged_score(priority: int, available_at: float) -> float:
    """Sort key of the claim order, smallest first; same order as ``effective_priority``.

    ``priority + (now - available_at) / A`` ranks runs as ``-(available_at - priority * A)``
    for any ``now``, which is what lets an index keep the order.
    """
    return available_at - priority * AGING_SECONDS


def claim_rank(started: bool, priority: int, available_at: float) -> tuple[int, float]:
    """Sort key of the claim order within one key, smallest first: runs that already
    started, oldest due first, then fresh runs by aged priority (``aged_score``).

    The two halves each come straight from an index: started runs by ``available_at`` (so
    a claim reads only those due, however many retries still back off), fresh runs by
    ``available_at - priority * AGING_SECONDS``.
    """
    return (0, available_at) if started else (1, aged_score(priority, available_at))




def next_start_at(rate: Rate, window_starts: Sequence[float], now: float) -> float:
    """When the next start fits, given the start times inside the current window."""
    recent = sorted(t for t in window_starts if t > now - rate.window)
    if len(recent) < rate.count:
        return now
    return recent[len(recent) - rate.count] + rate.window


# -- the claim decision ----------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A queued run the claim may start. ``score`` orders it within its tier (see
    ``claim_rank``); ``started``: it ran before, so it goes ahead of fresh runs."""

    id: str
    queue: str
    concurrency_key: str | None
    score: float = 0.0
    started: bool = False

    @property
    def rank(self) -> tuple[bool, float, str]:
        return not self.started, self.score, self.id


@dataclass(frozen=True)
class QueueState:
    """What the claim knows of one controlled queue, read under its lock."""

    name: str
    paused: bool = False
    limit: int | None = None  # per slot: keyless runs, or each concurrency key
    total: int | None = None  # all slots of the queue together
    rate: Rate | None = None
    key_rate: Rate | None = None
    running: dict[str | None, int] = field(default_factory=dict)  # per key, None = keyless
    rate_used: int = 0
    key_rate_used: dict[str, int] = field(default_factory=dict)
    cursor: str | None = None  # the last key served


@dataclass(frozen=True)
class RateWait:
    """A rate window that turned at least one candidate away in this claim.

    ``used`` starts of the window were logged before the claim, ``taken`` more are logged
    by it (all at the claim's ``now``). The window has room again once the start at
    ``leaving`` (oldest first, the claim's own starts last) has left it.
    """

    queue: str
    key: str | None  # None: the queue's ``rate_limit``; else this key's ``key_rate_limit``
    rate: Rate
    used: int
    taken: int

    @property
    def leaving(self) -> int:
        """Index of the start whose leaving frees one unit (more than one start must leave
        when a lowered rate left the window over budget)."""
        return max(self.used + self.taken - self.rate.count, 0)


def frees_at(wait: RateWait, leaving_at: float | None, now: float) -> float:
    """When ``wait``'s window has room, given the time of its start at ``wait.leaving``.

    Only starts logged before the claim are looked up (``leaving_at``); when the start to
    leave is one of this claim's own, it was logged at ``now``. Same answer as ``next_start_at``
    over the whole log, from one row.
    """
    if wait.leaving >= wait.used or leaving_at is None:
        return now + wait.rate.window
    return leaving_at + wait.rate.window


@dataclass(frozen=True)
class Plan:
    ids: list[str]
    cursors: dict[str, str]  # queue → new key cursor, only where it moved
    waits: list[RateWait] = field(default_factory=list)  # rates that held candidates back


def rotation(keys: Iterable[str | None], cursor: str | None) -> list[str | None]:
    """Keys in turn order: those after ``cursor`` (sorted), then from the start again."""
    ordered = sorted(set(keys), key=lambda k: "" if k is None else "\x01" + k)
    if cursor is None:
        return ordered
    after = [k for k in ordered if k is not None and k > cursor]
    return after + [k for k in ordered if k not in after]


def order(candidates: Iterable[Candidate], cursors: dict[str, str | None]) -> list[Candidate]:
    """Round robin over keys within each queue, and over queues (best head first); within
    a key, started runs first, then aged priority (``Candidate.rank``)."""
    groups: dict[str, dict[str | None, list[Candidate]]] = {}
    for cand in sorted(candidates, key=lambda c: c.rank):
        groups.setdefault(cand.queue, {}).setdefault(cand.concurrency_key, []).append(cand)
    per_queue = [_interleave([by_key[k] for k in rotation(by_key, cursors.get(q))])
                 for q, by_key in groups.items()]
    per_queue.sort(key=lambda seq: seq[0].rank)
    return _interleave(per_queue)


def _interleave(seqs: list[list[Candidate]]) -> list[Candidate]:
    out: list[Candidate] = []
    depth = max((len(s) for s in seqs), default=0)
    for i in range(depth):
        out.extend(s[i] for s in seqs if i < len(s))
    return out


@dataclass
class _Usage:
    total: int = 0
    slots: dict[str | None, int] = field(default_factory=dict)
    rate: int = 0
    key_rate: dict[str, int] = field(default_factory=dict)


#: refusals that hold every run of the queue, whatever its key
QUEUE_WIDE = frozenset({"paused", "total", "rate"})


def refusal(q: QueueState, use: _Usage, key: str | None) -> str | None:
    """The first rule that keeps one more run of ``q`` (with ``key``) from starting:
    ``paused``, ``total``, ``limit``, ``rate`` or ``key_rate``; None when it may start.

    Limits come before rates, so a run held by both is reported as held by the limit: a
    completion, not the passing of time, is what lets it start.
    """
    if q.paused:
        return "paused"
    if q.total is not None and sum(q.running.values()) + use.total >= q.total:
        return "total"
    if q.limit is not None and q.running.get(key, 0) + use.slots.get(key, 0) >= q.limit:
        return "limit"
    if q.rate is not None and q.rate_used + use.rate >= q.rate.count:
        return "rate"
    if (q.key_rate is not None and key is not None
            and q.key_rate_used.get(key, 0) + use.key_rate.get(key, 0) >= q.key_rate.count):
        return "key_rate"
    return None


def _window_full(q: QueueState, use: _Usage) -> bool:
    return q.rate is not None and q.rate_used + use.rate >= q.rate.count


def plan(
    candidates: Iterable[Candidate],
    queues: dict[str, QueueState],
    capacity: int,
    env_room: int | None = None,
) -> Plan:
    """Which candidates start, in turn order, never breaking a rule above.

    ``queues`` holds the controlled queues; a candidate of any other queue is limited only
    by ``capacity`` and ``env_room`` (free slots under the environment-wide limit).
    """
    cursors = {name: q.cursor for name, q in queues.items()}
    ordered = order(candidates, dict(cursors))
    room = capacity if env_room is None else min(capacity, env_room)
    usage: dict[str, _Usage] = {}
    taken: list[Candidate] = []
    refused: set[tuple[str, str, str | None]] = set()  # (rule, queue, key)
    for cand in ordered:
        if len(taken) >= room:
            break
        q = queues.get(cand.queue)
        if q is not None:
            use = usage.setdefault(cand.queue, _Usage())
            why = refusal(q, use, cand.concurrency_key)
            if why is not None:
                refused.add((why, cand.queue, cand.concurrency_key))
                if why == "limit" and cand.concurrency_key is not None and _window_full(q, use):
                    # this key waits for a completion, but the queue's other keys wait
                    # only for the window, which time frees
                    refused.add(("rate", cand.queue, None))
                continue
            _count(use, cand.concurrency_key)
        taken.append(cand)
    full = len(taken) >= room
    cut = {name for why, name, _ in refused if why in QUEUE_WIDE}
    moved = _cursors(ordered, taken, queues, full, cut)
    rated = {(name, key if why == "key_rate" else None) for why, name, key in refused
             if why in ("rate", "key_rate")}
    return Plan([c.id for c in taken], moved, _waits(rated, queues, usage))


def _waits(rated: set[tuple[str, str | None]], queues: dict[str, QueueState],
           usage: dict[str, _Usage]) -> list[RateWait]:
    """The rate windows that held candidates back, with what this claim added to them.

    Once a rate turned a candidate away the claim adds no start to its window, so the
    usage counted at the end is the usage at the refusal.
    """
    waits: list[RateWait] = []
    for name, key in sorted(rated, key=lambda r: (r[0], r[1] is not None, r[1] or "")):
        q, use = queues[name], usage[name]
        if key is None and q.rate is not None:
            waits.append(RateWait(name, None, q.rate, q.rate_used, use.rate))
        elif key is not None and q.key_rate is not None:
            waits.append(RateWait(name, key, q.key_rate, q.key_rate_used.get(key, 0),
                                  use.key_rate.get(key, 0)))
    return waits


def _count(use: _Usage, key: str | None) -> None:
    use.total += 1
    use.slots[key] = use.slots.get(key, 0) + 1
    use.rate += 1
    if key is not None:
        use.key_rate[key] = use.key_rate.get(key, 0) + 1


def _cursors(ordered: list[Candidate], taken: list[Candidate], queues: dict[str, QueueState],
             full: bool, cut: set[str]) -> dict[str, str]:
    """Where each queue's turn resumes next claim.

    When the claim filled up, or a rule of the whole queue (``cut``: its pause, total cap
    or rate) ended the queue's share, after the last key served: the keys it turned away
    go first next time, instead of starving behind the others' backlog. Otherwise after
    the furthest key looked at, so keys that could not start (at their own limit) never
    hold the turn.
    """
    moved: dict[str, str] = {}
    for name, q in queues.items():
        if full or name in cut:
            keys = [c.concurrency_key for c in taken if c.queue == name]
        else:
            seen = [c.concurrency_key for c in ordered if c.queue == name]
            later = [k for k in seen if k is not None and (q.cursor is None or k > q.cursor)]
            keys = [max(later)] if later else seen
        keyed = [k for k in keys if k is not None]
        if keyed and keyed[-1] != q.cursor:
            moved[name] = keyed[-1]
    return moved
