"""A state machine over the pure claim policy: runs are triggered, claimed through
``flow.plan``, completed or put back (a wait ended, a retry), time passes, the queue is
paused and its limits change. After every claim: no limit, total, rate budget, pause or
capacity is broken, a claim that starts nothing had nothing it could start, and no fresh
run started while a run of its queue and key that had already started was left queued."""

from __future__ import annotations

import itertools

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from outlast.core.limits import Rate
from outlast.engine.flow import Candidate, QueueState, plan

KEYS = st.sampled_from([None, "a", "b", "c"])
LIMITS = st.one_of(st.none(), st.integers(1, 3))
RATES = st.one_of(st.none(), st.builds(Rate, st.integers(1, 4), st.sampled_from([1.0, 5.0])))


class ClaimPolicy(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count()
        self.now = 0.0
        self.queued: list[Candidate] = []
        self.running: list[Candidate] = []
        self.starts: list[tuple[float, Candidate]] = []
        self.cursor: str | None = None
        self.config = QueueState("q")

    # -- the world -------------------------------------------------------------------

    @rule(key=KEYS, queue=st.sampled_from(["q", "q", "u"]), priority=st.integers(-2, 2))
    def trigger(self, key: str | None, queue: str, priority: int) -> None:
        n = next(self.ids)
        self.queued.append(Candidate(f"r{n}", queue, key, self.now - priority * 60 + n * 1e-6))

    @precondition(lambda self: self.running)
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        self.running.remove(data.draw(st.sampled_from(self.running)))

    @precondition(lambda self: self.running)
    @rule(data=st.data())
    def come_back(self, data: st.DataObject) -> None:
        """A running run is queued again after a wait or a failed attempt: it has started."""
        run = data.draw(st.sampled_from(self.running))
        self.running.remove(run)
        self.queued.append(Candidate(run.id, run.queue, run.concurrency_key, self.now,
                                     started=True))

    @rule(seconds=st.sampled_from([0.5, 1.0, 3.0]))
    def advance(self, seconds: float) -> None:
        self.now += seconds

    @rule(paused=st.booleans(), limit=LIMITS, total=LIMITS, rate=RATES, key_rate=RATES)
    def reconfigure(self, paused: bool, limit: int | None, total: int | None,
                    rate: Rate | None, key_rate: Rate | None) -> None:
        self.config = QueueState("q", paused=paused, limit=limit, total=total, rate=rate,
                                 key_rate=key_rate)

    # -- the claim ---------------------------------------------------------------------

    def state(self) -> QueueState:
        c = self.config
        running: dict[str | None, int] = {}
        for r in self.running:
            if r.queue == "q":
                running[r.concurrency_key] = running.get(r.concurrency_key, 0) + 1
        rate_used = sum(1 for t, r in self.starts
                        if r.queue == "q" and c.rate and t > self.now - c.rate.window)
        key_used: dict[str, int] = {}
        for t, r in self.starts:
            if r.queue == "q" and r.concurrency_key and c.key_rate \
                    and t > self.now - c.key_rate.window:
                key_used[r.concurrency_key] = key_used.get(r.concurrency_key, 0) + 1
        return QueueState("q", c.paused, c.limit, c.total, c.rate, c.key_rate, running,
                          rate_used, key_used, self.cursor)

    @rule(capacity=st.integers(0, 4), env_room=st.one_of(st.none(), st.integers(0, 5)))
    def claim(self, capacity: int, env_room: int | None) -> None:
        before = self.state()
        decided = plan(self.queued, {"q": before}, capacity, env_room)
        chosen = [c for c in self.queued if c.id in decided.ids]
        assert len(chosen) == len(decided.ids) == len(set(decided.ids))
        self.check(before, chosen, capacity, env_room)
        for cand in chosen:
            self.queued.remove(cand)
            self.running.append(cand)
            self.starts.append((self.now, cand))
        self.cursor = decided.cursors.get("q", self.cursor)

    def check(self, q: QueueState, chosen: list[Candidate], capacity: int,
              env_room: int | None) -> None:
        room = capacity if env_room is None else min(capacity, env_room)
        assert len(chosen) <= room
        mine = [c for c in chosen if c.queue == "q"]
        if q.paused:
            assert not mine
        if q.total is not None and mine:
            assert sum(q.running.values()) + len(mine) <= q.total
        for key in {c.concurrency_key for c in mine}:
            n = sum(1 for c in mine if c.concurrency_key == key)
            if q.limit is not None:
                assert q.running.get(key, 0) + n <= q.limit
            if q.key_rate is not None and key is not None:
                assert q.key_rate_used.get(key, 0) + n <= q.key_rate.count
        if q.rate is not None and mine:
            assert q.rate_used + len(mine) <= q.rate.count
        left = {(c.queue, c.concurrency_key) for c in self.queued
                if c.started and c not in chosen}
        assert not [c for c in chosen if not c.started and (c.queue, c.concurrency_key) in left]
        if not chosen and room > 0:  # nothing started: then nothing could have
            assert not any(c.queue == "u" for c in self.queued)
            alone = [c for c in self.queued if c.queue == "q" and _admits_alone(q, c)]
            assert not alone, alone

    @invariant()
    def ids_are_in_one_place(self) -> None:
        ids = [c.id for c in self.queued] + [c.id for c in self.running]
        assert len(ids) == len(set(ids))


def _admits_alone(q: QueueState, c: Candidate) -> bool:
    if q.paused:
        return False
    if q.total is not None and sum(q.running.values()) >= q.total:
        return False
    if q.limit is not None and q.running.get(c.concurrency_key, 0) >= q.limit:
        return False
    if q.rate is not None and q.rate_used >= q.rate.count:
        return False
    return not (q.key_rate is not None and c.concurrency_key is not None
                and q.key_rate_used.get(c.concurrency_key, 0) >= q.key_rate.count)


TestClaimPolicy = ClaimPolicy.TestCase
TestClaimPolicy.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
