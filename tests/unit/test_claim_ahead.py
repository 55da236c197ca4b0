"""The worker's buffer of claimed runs: runs that had started go ahead of fresh ones."""

from __future__ import annotations

from typing import Any, cast

from outlast.worker.claim_ahead import ClaimAhead
from outlast.worker.messages import Assignment
from outlast.worker.pool import Child


class StubChild:
    """As much of ``pool.Child`` as the hand-out uses: a pipe that records what it got."""

    def __init__(self) -> None:
        self.ready, self.retire = True, False
        self.job: Assignment | None = None
        self.queued: list[Assignment] = []
        self.got: list[str] = []

        self.shared: dict[str, Assignment] = {}

    def load(self) -> int:
        return (self.job is not None) + len(self.queued) + len(self.shared)

    def can_take(self, depth: int) -> bool:
        return not self.shared and self.load() < depth

    def shared_room(self, slots: int) -> int:
        return 0 if self.job is not None else slots - len(self.shared)

    def hold_shared(self, jobs: list[Assignment]) -> None:
        assert all(job.shared for job in jobs)
        self.shared.update((job.run["id"], job) for job in jobs)

    def hold_batch(self, jobs: list[Assignment]) -> bool:
        started = self.job is None
        if started:
            self.job, jobs = jobs[0], jobs[1:]
        self.queued.extend(jobs)
        return started

    def deliver(self, jobs: list[Assignment], shared: bool, started_one: bool = False) -> bool:
        self.got.extend(job.run["id"] for job in jobs)
        return True


def rows(*ids: str, task: str = "t") -> list[dict[str, Any]]:
    return [{"id": i, "task_id": task, "machine": None, "attempt_count": 1, "lease_id": "l"}
            for i in ids]


def shared_ahead(slots: int) -> ClaimAhead:
    ahead = ClaimAhead(2, "dev", enforce_memory=False, async_slots=slots)
    ahead.async_tasks = frozenset({"a"})
    return ahead


def test_async_runs_leave_one_child_free_for_sync_runs() -> None:
    ahead = shared_ahead(3)
    first, second = StubChild(), StubChild()
    children = [cast(Child, first), cast(Child, second)]
    assert ahead.wanted(children) == 2  # one each while nothing shares yet
    ahead.add(rows("a1", "a2", task="a"))
    ahead.feed(children)
    assert (first.got, second.got) == (["a1", "a2"], [])  # the second stays apart
    assert ahead.wanted(children) == 1 + 1  # the sharing child's last slot, the idle one
    ahead.add(rows("a3", "a4", task="a") + rows("s1"))
    ahead.feed(children)
    assert (first.got, second.got) == (["a1", "a2", "a3"], ["s1"])
    assert [r["id"] for r in ahead.buffer] == ["a4"]  # waits for a slot
    first.shared.clear()
    ahead.feed(children)
    assert first.got[-1] == "a4"


def test_a_worker_of_async_tasks_only_spreads_their_runs_over_its_children() -> None:
    """Each child is a core's worth of work: none is kept free where no run needs one."""
    ahead = shared_ahead(3)
    ahead.sync_tasks = False
    first, second = StubChild(), StubChild()
    ahead.add(rows("a1", "a2", "a3", task="a"))
    ahead.feed([cast(Child, first), cast(Child, second)])
    assert (first.got, second.got) == (["a1", "a3"], ["a2"])


def test_a_single_child_takes_async_runs_though_sync_tasks_exist() -> None:
    ahead = shared_ahead(3)
    only = StubChild()
    ahead.add(rows("a1", "a2", task="a"))
    ahead.feed([cast(Child, only)])
    assert only.got == ["a1", "a2"]


def test_a_sync_run_keeps_its_place_while_async_runs_pass_it() -> None:
    ahead = shared_ahead(4)
    busy, sharing = StubChild(), StubChild()
    busy.job = ahead.job(rows("x")[0])
    sharing.shared = {"a0": ahead.job(rows("a0", task="a")[0])}
    ahead.add(rows("s1") + rows("a1", task="a") + rows("s2"))
    ahead.feed([cast(Child, busy), cast(Child, sharing)])
    assert sharing.got == ["a1"]
    assert [r["id"] for r in ahead.buffer] == ["s1", "s2"]


def test_one_async_slot_runs_async_tasks_as_sync_ones() -> None:
    ahead = shared_ahead(1)
    child = StubChild()
    ahead.add(rows("a1", "a2", task="a"))
    ahead.feed([cast(Child, child)])
    assert child.got == ["a1"] and not child.shared
    assert not ahead.job(rows("a3", task="a")[0]).shared


def test_a_run_that_had_started_goes_ahead_of_buffered_fresh_runs() -> None:
    ahead = ClaimAhead(4, "dev", enforce_memory=False)
    ahead.add(rows("f1", "f2"))
    ahead.add(rows("r1", "f3"), resumed=1)
    ahead.add(rows("r2", "r3", "f4"), resumed=2)
    assert [r["id"] for r in ahead.buffer] == ["r1", "r2", "r3", "f1", "f2", "f3", "f4"]
    child = StubChild()
    ahead.feed([cast(Child, child)])
    assert child.got == ["r1"]  # depth 1 while nothing says runs are short
    child.job = None
    ahead.feed([cast(Child, child)])
    assert child.got == ["r1", "r2"]
    assert [job.run["id"] for job in ahead.take_all()] == ["r3", "f1", "f2", "f3", "f4"]
    ahead.add(rows("r4"), resumed=1)
    assert [r["id"] for r in ahead.buffer] == ["r4"]
    assert "_resumed" not in ahead.job(ahead.buffer[0]).run


def test_a_pipe_holds_what_its_runs_take_in_the_child_not_their_own_time() -> None:
    """A no-op that takes 0.1 ms of its own but 10 ms each from hand-out to end (a busy
    machine): its child holds 1 + 30 ms / 10 ms runs, not the 32 its own time would
    allow, so a resumed run claimed now waits behind three runs, not thirty-one."""
    ahead = ClaimAhead(4, "dev", enforce_memory=False)
    for _ in range(20):
        ahead.observe("t", 0.0001, 0.010)
    assert ahead.prefetching()  # the task is short: runs are still claimed ahead
    assert ahead.depth_for("t") == 4
    quick = ClaimAhead(4, "dev", enforce_memory=False)
    for _ in range(20):
        quick.observe("t", 0.0001, 0.0005)
    assert quick.depth_for("t") == 32  # where runs are quick, pipes stay deep


def test_one_pipe_stays_short_while_started_runs_are_being_claimed() -> None:
    """A pipe cannot be reordered once sent: while a wave of due sleeps is claimed, one
    child (the express child) holds only a few milliseconds of fresh work and gets the
    resumed runs first; the others keep deep pipes. A second after the last started run
    came, the express child's pipe is deep again."""
    now = [100.0]
    ahead = ClaimAhead(4, "dev", enforce_memory=False, clock=lambda: now[0])
    for _ in range(20):
        ahead.observe("t", 0.0001, 0.0005)
    assert ahead.depth_for("t") == ahead.depth_for("t", express=True) == 32
    express, other = StubChild(), StubChild()
    children = [cast(Child, express), cast(Child, other)]
    express.job = other.job = ahead.job(rows("busy")[0])
    ahead.add(rows("r1", "r2", "f1", "f2"), resumed=2)
    assert ahead.express(children) is children[0]
    express.ready = False  # a child still starting is passed over
    assert ahead.express(children) is children[1]
    express.ready = True
    assert ahead.depth_for("t", express=True) == 11  # 1 + 5 ms / 0.5 ms
    assert ahead.depth_for("t") == 32
    ahead.feed(children)
    # resumed runs to the express child; fresh ones to the least loaded
    assert express.got == ["r1", "r2"] and other.got == ["f1", "f2"]
    now[0] += 0.9
    ahead.add(rows("f3"))  # fresh runs alone do not extend the wave
    assert ahead.depth_for("t", express=True) == 11
    now[0] += 0.2
    assert ahead.express(children) is None
    assert ahead.depth_for("t", express=True) == 32


def test_the_buffer_holds_as_many_short_runs_as_the_pipes_queue() -> None:
    """A drain of a sync task's short runs was bound by its passes: the children ran all
    they held before the pass in flight answered, so a buffer of ``concurrency`` runs let
    a pass claim only what the pipes had room for. The buffer now holds as many as the
    pipes queue behind their running runs (and ``concurrency`` at least); runs known to
    be long are claimed one a child, with nothing ahead."""
    ahead = ClaimAhead(2, "dev", enforce_memory=False)
    for _ in range(20):
        ahead.observe("t", 0.0001, 0.0005)
    one, two = StubChild(), StubChild()
    children = [cast(Child, one), cast(Child, two)]
    assert ahead.buffer_room(children) == 2  # idle children: concurrency
    assert ahead.wanted(children) == 1 + 1 + 2
    one.job = two.job = ahead.job(rows("busy")[0])
    assert ahead.buffer_room(children) == 31 + 31
    assert ahead.wanted(children) == 31 + 31 + 62  # both pipes, then as much again
    ahead.add(rows(*(f"f{i}" for i in range(80))))
    ahead.feed(children)
    assert len(one.got) == len(two.got) == 31 and len(ahead.buffer) == 18
    assert ahead.wanted(children) == 62 - 18
    slow = ClaimAhead(2, "dev", enforce_memory=False)
    for _ in range(20):
        slow.observe("t", 0.2)
    assert slow.buffer_room(children) == 0 and slow.wanted(children) == 0


def test_a_claimed_row_becomes_the_assignment_its_constructor_would_make() -> None:
    """The same fields, the same values, as the claim's row gives them."""
    import dataclasses
    import pickle

    from outlast.worker.claim_ahead import run_fields

    ahead = shared_ahead(3)
    ahead.enforce_memory = True
    row = {**rows("a1", task="a")[0], "machine": "small-1x", "lease_expires_at": 100.0,
           "journal": [{"op": "x"}], "payload": "{}", "queued_at": 5.0}
    offset = ahead.clock_offset()
    job = ahead.job(row, offset)
    made = Assignment(run=run_fields(row), lease_id="l", attempt=1,
                      memory_limit=job.memory_limit, environment="dev",
                      journal=[{"op": "x"}], shared=True, held_until=100.0 + offset)
    assert job.memory_limit is not None
    assert job == made and vars(job) == vars(made)
    assert list(vars(job)) == [f.name for f in dataclasses.fields(Assignment)]
    assert pickle.loads(pickle.dumps(job)) == made
    assert "queued_at" not in job.run
