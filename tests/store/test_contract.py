"""The store contract (``store/protocol.py``), member by member, on both dialects.

Each test names the member it pins. The engine relies on nothing else: a member that
is not declared and exercised here is not part of the contract.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from outlast.clock import FakeClock
from outlast.engine import Engine
from outlast.engine.events import CHANGED_CHANNEL
from outlast.readiness import readable
from outlast.store import Listener, Store, open_store
from outlast.store.protocol import ANY_CHANNEL, NestedTransactionError, Tx
from outlast.store.queries import load_queries
from tests.conftest import LEASE_SECONDS, T0, register_tasks, trigger_run

ENV = "dev"


def _event(run_id: str, kind: str = "note", at: float = T0) -> dict[str, Any]:
    return {"run_id": run_id, "at": at, "kind": kind, "status": None, "attempt": None,
            "data": "{}"}


def _events(store: Store, run_id: str) -> list[str]:
    with store.transaction(write=False) as tx:
        return [r["kind"] for r in tx.all("list_events", run_id=run_id, after=0, limit=100)]


def _heard(listener: Listener, want: Callable[[list[tuple[str, str]]], bool],
           timeout: float = 10.0) -> list[tuple[str, str]]:
    """Notes drained from ``listener`` until ``want`` holds of them (or the timeout)."""
    notes: list[tuple[str, str]] = []
    deadline = time.monotonic() + timeout
    while not want(notes) and (left := deadline - time.monotonic()) > 0:
        readable(listener.fileno(), left)
        notes += listener.drain()
    return notes


@pytest.fixture
def executing(engine: Engine) -> list[dict[str, Any]]:
    """Two runs of task ``job`` started by worker ``w``."""
    register_tasks(engine, "job")
    for _ in range(2):
        trigger_run(engine, "job")
    return engine.claim(ENV, "w", None, 2)


# -- Store: what it is --------------------------------------------------------------------


def test_dialect_names_the_query_files(store: Store) -> None:
    assert store.dialect in ("sqlite", "postgres")
    assert "get_run" in load_queries(store.dialect)


def test_url_reopens_the_same_database(store: Store) -> None:
    with store.transaction() as tx:
        tx.many("insert_event", [_event("run_url")])
    again = open_store(store.url)
    try:
        assert _events(again, "run_url") == ["note"]
    finally:
        again.close()


def test_concurrency_is_a_positive_count(store: Store) -> None:
    assert isinstance(store.concurrency, int) and store.concurrency >= 1


def test_embedded_is_said_of_a_file_of_the_projects_own(store: Store) -> None:
    assert store.embedded is store.url.startswith("sqlite:")


def test_migrate_applies_nothing_twice(store: Store) -> None:
    assert store.migrate() == []


def test_close_leaves_the_database_to_the_next_store(store_url: str) -> None:
    first = open_store(store_url)
    with first.transaction() as tx:
        tx.many("insert_event", [_event("run_close")])
    first.close()
    second = open_store(store_url)
    try:
        assert _events(second, "run_close") == ["note"]
    finally:
        second.close()


# -- Store.transaction --------------------------------------------------------------------


def test_a_transaction_commits_when_its_block_ends(store: Store) -> None:
    with store.transaction() as tx:
        tx.many("insert_event", [_event("run_a")])
    assert _events(store, "run_a") == ["note"]


def test_a_transaction_rolls_back_when_its_block_raises(store: Store) -> None:
    heard: list[tuple[str, str]] = []
    store.add_local_listener(lambda channel, payload: heard.append((channel, payload)))
    with pytest.raises(KeyError), store.transaction() as tx:
        tx.many("insert_event", [_event("run_b")])
        tx.notify("outlast_changed", "run_b")
        raise KeyError("boom")
    assert _events(store, "run_b") == []
    assert heard == []  # nothing is announced of what was never written


def test_a_transaction_that_waited_for_an_answer_still_rolls_back_whole(store: Store) -> None:
    """Writes queued before and after an answer (which the server sends at once) belong
    to the one transaction the block's error undoes."""
    with pytest.raises(KeyError), store.transaction() as tx:
        tx.many("insert_event", [_event("run_c", "before")])
        assert tx.one("ping") == {"ok": 1}
        tx.many("insert_event", [_event("run_c", "after")])
        raise KeyError("boom")
    assert _events(store, "run_c") == []


def test_a_statement_the_database_refuses_undoes_its_transaction(store: Store) -> None:
    """A failing statement, whether the block waited for its answer or not, undoes what
    the transaction wrote before it, raises, and leaves the store usable."""
    for answered in (False, True):
        with pytest.raises(Exception, match="(?i)null|constraint"), \
                store.transaction() as tx:
            tx.many("insert_event", [_event("run_d", "kept?")])
            if answered:
                tx.one("ping")
            tx.many("insert_event", [_event(None, "refused")])  # type: ignore[arg-type]
        assert _events(store, "run_d") == []
    with store.transaction() as tx:
        tx.many("insert_event", [_event("run_d", "next")])
    assert _events(store, "run_d") == ["next"]


def test_a_transaction_of_one_refused_statement_raises_and_announces_nothing(
        store: Store) -> None:
    """A block that queued a single write (sent on its own when the block ends) and a
    notification: the refusal raises from the block, nothing is announced, and the store
    goes on."""
    heard: list[tuple[str, str]] = []
    store.add_local_listener(lambda channel, payload: heard.append((channel, payload)))
    with pytest.raises(Exception, match="(?i)null|constraint"), store.transaction() as tx:
        tx.notify("outlast_changed", "run_e")
        tx.many("insert_event", [_event(None, "refused")])  # type: ignore[arg-type]
    assert heard == []
    with store.transaction() as tx:
        tx.many("insert_event", [_event("run_e", "next")])
    assert _events(store, "run_e") == ["next"]


def test_a_read_transaction_reads(store: Store) -> None:
    with store.transaction(write=False) as tx:
        assert tx.one("ping") == {"ok": 1}


@pytest.mark.parametrize(("outer", "inner"), [(True, True), (True, False), (False, True),
                                              (False, False)])
def test_a_transaction_inside_another_is_refused(store: Store, outer: bool,
                                                 inner: bool) -> None:
    with store.transaction(write=outer) as tx:
        with pytest.raises(NestedTransactionError, match="pass its Tx down"), \
                store.transaction(write=inner):
            pass  # pragma: no cover - never entered
        if outer:
            tx.many("insert_event", [_event("run_outer")])
    assert _events(store, "run_outer") == (["note"] if outer else [])
    with store.transaction(write=False) as tx:  # the thread may open the next one
        assert tx.one("ping") is not None


def test_compact_keeps_every_row_and_refuses_to_run_inside_a_transaction(
        store: Store) -> None:
    with store.transaction() as tx:
        tx.many("insert_event", [_event("run_kept")])
    store.compact()
    assert _events(store, "run_kept") == ["note"]
    with store.transaction(write=False), \
            pytest.raises(NestedTransactionError):
        store.compact()
    with store.transaction(write=False) as tx:
        assert tx.one("ping") is not None


def test_reclaim_keeps_every_row_and_refuses_to_run_inside_a_transaction(
        store: Store) -> None:
    with store.transaction() as tx:
        tx.many("insert_event", [_event("run_kept")])
    store.reclaim(["run_events", "runs"])
    assert _events(store, "run_kept") == ["note"]
    with store.transaction(write=False), \
            pytest.raises(NestedTransactionError):
        store.reclaim(["runs"])


def test_other_threads_open_their_own_transactions_meanwhile(store: Store) -> None:
    answers: list[Any] = []

    def read() -> None:
        with store.transaction(write=False) as tx:
            answers.append(tx.one("ping"))

    with store.transaction() as tx:
        tx.many("insert_event", [_event("run_meanwhile")])
        reader = threading.Thread(target=read)
        reader.start()
        reader.join(30)
    assert answers == [{"ok": 1}]


def test_serial_writes_make_a_second_writer_wait_for_the_first(store: Store) -> None:
    """With ``serial_writes`` a writer begins once the one before has committed, so ids
    become visible in the order they were taken (what ``engine/alerts.py`` relies on)."""
    assert isinstance(store.serial_writes, bool)
    if not store.serial_writes:
        pytest.skip("writers commit concurrently on this store: nothing to wait for")
    second_done = threading.Event()

    def second_writer() -> None:
        with store.transaction() as tx:
            tx.many("insert_event", [_event("run_order", "second")])
        second_done.set()

    with store.transaction() as tx:
        tx.many("insert_event", [_event("run_order", "first")])
        writer = threading.Thread(target=second_writer)
        writer.start()
        assert not second_done.wait(0.2)  # it cannot finish while this one is open
    writer.join(30)
    assert _events(store, "run_order") == ["first", "second"]


# -- Tx -----------------------------------------------------------------------------------


def test_one_answers_the_first_row_or_none(store: Store) -> None:
    with store.transaction() as tx:
        tx.many("insert_event", [_event("run_one", "a"), _event("run_one", "b")])
    with store.transaction(write=False) as tx:
        first = tx.one("list_events", run_id="run_one", after=0, limit=10)
        missing = tx.one("list_events", run_id="nobody", after=0, limit=10)
    assert first is not None and first["kind"] == "a"
    assert missing is None


def test_one_runs_a_writing_statement_to_its_end(store: Store, clock: FakeClock,
                                                 executing: list[dict[str, Any]]) -> None:
    """Rows back from an update: every row it matched is written, not only the first."""
    ids = [r["id"] for r in executing]
    until = clock.now() + 1000
    with store.transaction() as tx:
        answered = tx.one("heartbeat_runs", worker_id="w", ids=ids, lease_expires_at=until)
    assert answered is not None and answered["id"] in ids
    with store.transaction(write=False) as tx:
        rows = tx.all("get_runs", ids=ids)
    assert [r["lease_expires_at"] for r in rows] == [until, until]


def test_all_answers_every_row_also_of_a_writing_statement(
        store: Store, clock: FakeClock, executing: list[dict[str, Any]]) -> None:
    ids = sorted(r["id"] for r in executing)
    with store.transaction() as tx:
        rows = tx.all("heartbeat_runs", worker_id="w", ids=ids,
                      lease_expires_at=clock.now() + 60)
        none = tx.all("heartbeat_runs", worker_id="other", ids=ids,
                      lease_expires_at=clock.now() + 60)
    assert sorted(r["id"] for r in rows) == ids
    assert none == []


def test_run_counts_the_rows_a_guarded_write_changed(store: Store,
                                                     executing: list[dict[str, Any]]) -> None:
    run_id = executing[0]["id"]
    with store.transaction() as tx:
        assert tx.run("upsert_worker", id="w", environment=ENV, now=T0, hostname="h", pid=1,
                      version="1", queues="[]", concurrency=1) == 1
        assert tx.run("worker_heartbeat", id="w", now=T0 + 1) == 1
        assert tx.run("worker_heartbeat", id="nobody", now=T0 + 1) == 0
        assert tx.run("finish_hook", id=run_id, lease_id="not-held") == 0


def test_many_runs_once_per_row_and_not_at_all_for_none(store: Store) -> None:
    with store.transaction() as tx:
        tx.many("insert_event", [_event("run_many", kind) for kind in "abc"])
        tx.many("insert_event", [])
    assert _events(store, "run_many") == ["a", "b", "c"]


def _run_ids(store: Store, prefix: str) -> list[str]:
    """The runs there are of ``prefix`` and a suffix these tests use."""
    ids = [prefix + suffix for suffix in ("", "a", "b", "c", "1", "2", "3")]
    with store.transaction(write=False) as tx:
        return sorted(r["id"] for r in tx.all("get_runs", ids=ids))


def test_load_inserts_rows_as_a_generator_yields_them(store: Store) -> None:
    made: list[str] = []

    def rows() -> Iterator[dict[str, Any]]:
        for n in "abc":
            made.append(n)
            yield _new_run_row(f"run_load_{n}", [])

    with store.transaction() as tx:
        tx.load("load_runs", rows())
    assert made == ["a", "b", "c"]
    assert _run_ids(store, "run_load_") == ["run_load_a", "run_load_b", "run_load_c"]


def test_load_takes_each_column_by_name_and_text_as_it_is(store: Store) -> None:
    """Values ``COPY``'s text format would read otherwise (tab, newline, backslash, a
    ``\\N``, NULL, floats to the last digit), and an int where a float goes, arrive
    unchanged."""
    row = _new_run_row("run_loaded", ["tab\there", "new\nline"]) | {
        "payload": '{"s":"a\\tb\\\\N\tc\\n"}', "updated_at": T0 + 0.1,
        "available_at": 1.0 / 3, "concurrency_key": "\\N", "ttl": 60, "priority": -5}
    with store.transaction() as tx:
        tx.load("load_runs", [row])
    with store.transaction(write=False) as tx:
        got = tx.one("get_run", id="run_loaded", environment=ENV)
    assert got is not None
    assert {k: got[k] for k in row} == row


def test_load_belongs_to_its_transaction(store: Store) -> None:
    """What was sent before a load and after it commits with it, or rolls back with it,
    a load that fails part way included."""
    with store.transaction() as tx:
        assert tx.one("get_run", id="nothing", environment=ENV) is None  # an answer first
        tx.many("insert_event", [_event("run_around", "before")])
        tx.load("load_runs", [_new_run_row("run_around", [])])
        tx.many("insert_event", [_event("run_around", "after")])
        assert tx.one("get_run", id="nothing", environment=ENV) is None
    assert _events(store, "run_around") == ["before", "after"]
    assert _run_ids(store, "run_around") == ["run_around"]

    def failing() -> Iterator[dict[str, Any]]:
        yield _new_run_row("run_undone_1", [])
        raise RuntimeError("item 1 refused")

    with pytest.raises(RuntimeError, match="item 1 refused"), store.transaction() as tx:
        tx.many("insert_event", [_event("run_undone", "before")])
        tx.load("load_runs", failing())
    with pytest.raises(RuntimeError, match="after"), store.transaction() as tx:
        tx.load("load_runs", [_new_run_row("run_undone_2", [])])
        raise RuntimeError("after the load")
    assert _events(store, "run_undone") == []
    assert _run_ids(store, "run_undone_") == []
    with store.transaction() as tx:  # the connection went back to the pool usable
        tx.load("load_runs", [_new_run_row("run_undone_3", [])])
    assert _run_ids(store, "run_undone_") == ["run_undone_3"]


def test_a_load_writes_what_its_rows_queued_after_them(store: Store) -> None:
    """Statements ``many`` queues while a load's rows are made are written after those
    rows, in the same transaction: committed with it, or undone with it."""
    def rows(tx: Tx, run_id: str, fail: bool = False) -> Iterator[dict[str, Any]]:
        yield _new_run_row(run_id, [])
        tx.many("insert_event", [_event(run_id, "queued"), _event(run_id, "queued too")])
        if fail:
            raise RuntimeError("refused after queueing")

    with store.transaction() as tx:
        tx.load("load_runs", rows(tx, "run_queuing"))
        tx.many("insert_event", [_event("run_queuing", "after")])
    assert _events(store, "run_queuing") == ["queued", "queued too", "after"]
    assert _run_ids(store, "run_queuing") == ["run_queuing"]
    with pytest.raises(RuntimeError, match="refused"), store.transaction() as tx:
        tx.load("load_runs", rows(tx, "run_unqueued", fail=True))
    assert _events(store, "run_unqueued") == []
    assert _run_ids(store, "run_unqueued") == []


def test_a_deferred_answer_reaches_the_rows_of_the_load_it_goes_with(store: Store) -> None:
    """``one_deferred`` before a load that opens the transaction: the rows, made after
    it, read its answer (PostgreSQL asks for it in the load's own query)."""
    with store.transaction() as tx:
        answer = tx.one_deferred("next_event_id")

        def rows() -> Iterator[dict[str, Any]]:
            row = answer()
            assert row is not None
            yield _new_run_row("run_deferred", []) | {"created_event": int(row["id"])}

        tx.load("load_runs", rows())
        first = answer()
        assert answer() is first  # asked once
    with store.transaction(write=False) as tx:
        got = tx.one("get_run", id="run_deferred", environment=ENV)
    assert first is not None and got is not None
    assert got["created_event"] == int(first["id"]) > 0


def test_a_deferred_answer_is_asked_for_alone_without_a_load(store: Store) -> None:
    """Asked before any load, after other statements, or never: each transaction
    commits what it wrote, and each id is new."""
    ids: list[int] = []
    with store.transaction() as tx:
        answer = tx.one_deferred("next_event_id")
        row = answer()
        assert row is not None
        ids.append(int(row["id"]))
        tx.many("insert_event", [_event("run_deferred_2", "after it")])
    with store.transaction() as tx:
        tx.many("insert_event", [_event("run_deferred_2", "before it")])
        answer = tx.one_deferred("next_event_id")
        tx.load("load_runs", [_new_run_row("run_deferred_2", [])])
        row = answer()
        assert row is not None
        ids.append(int(row["id"]))
    with store.transaction() as tx:  # two: the second asked at once
        first, second = tx.one_deferred("next_event_id"), tx.one_deferred("next_event_id")
        tx.load("load_runs", [_new_run_row("run_deferred_3", [])])
        assert first() is not None and second() is not None
    with store.transaction() as tx:
        tx.one_deferred("next_event_id")  # never asked
        tx.many("insert_event", [_event("run_deferred_2", "unasked")])
    assert _events(store, "run_deferred_2") == ["after it", "before it", "unasked"]
    assert _run_ids(store, "run_deferred_2") == ["run_deferred_2"]
    assert ids[0] < ids[1]


def test_notify_reaches_local_listeners_once_after_commit(store: Store) -> None:
    heard: list[tuple[str, str]] = []
    store.add_local_listener(lambda channel, payload: heard.append((channel, payload)))
    with store.transaction() as tx:
        tx.notify("outlast_changed", "run_n")
        assert heard == []  # not before the commit
    assert heard == [("outlast_changed", "run_n")]


def test_remove_local_listener_stops_the_calls(store: Store) -> None:
    heard: list[tuple[str, str]] = []

    def callback(channel: str, payload: str) -> None:
        heard.append((channel, payload))

    store.add_local_listener(callback)
    store.remove_local_listener(callback)
    store.remove_local_listener(callback)  # one no longer there is ignored
    with store.transaction() as tx:
        tx.notify("outlast_changed", "run_r")
    assert heard == []


def test_lazy_commit_still_commits(store: Store) -> None:
    with store.transaction() as tx:
        tx.lazy_commit()
        tx.many("insert_event", [_event("run_lazy")])
    assert _events(store, "run_lazy") == ["note"]


def test_alone_answers_as_all_does_and_ends_the_transaction(store: Store) -> None:
    """``alone`` is a transaction's last statement: what came before it is committed with
    it (PostgreSQL sends it, the notifications and ``COMMIT`` together, or it alone when
    nothing came before), lazily or not."""
    with store.transaction() as tx:
        assert tx.alone("ping") == [{"ok": 1}]
    for env, lazy in (("e1", False), ("e2", True)):
        with store.transaction() as tx:
            if lazy:
                tx.lazy_commit()
            tx.run("ensure_environment_row", environment=env, now=T0)
            assert tx.alone("ping") == [{"ok": 1}]
        with store.transaction() as tx:
            assert tx.one("lock_environment_limit", environment=env) is not None
    with store.transaction() as tx:
        tx.lazy_commit()
        assert tx.alone("ping") == [{"ok": 1}]  # lazily, a statement without ``:lazy``


def test_compound_writes_says_who_records_a_claims_starts(
        store: Store, engine: Engine) -> None:
    """The claim query writes each start's attempt row itself exactly when the store
    says its statements may write several tables; otherwise it leaves them to the caller."""
    register_tasks(engine, "job")
    run_id = trigger_run(engine, "job").row["id"]
    with store.transaction() as tx:
        assert isinstance(tx.compound_writes, bool)
        rows = tx.all("claim_unlimited", environment=ENV, now=T0, limit=1, lease_id="l1",
                      lease_expires_at=T0 + LEASE_SECONDS, worker_id="w",
                      version=None, tasks=None, changed_channel=CHANGED_CHANNEL,
                      start_data="{}")
        compound = tx.compound_writes
    assert [r["id"] for r in rows] == [run_id]
    assert len(engine.attempts(run_id)) == (1 if compound else 0)


def test_compound_writes_says_who_logs_a_batch_completion(
        store: Store, executing: list[dict[str, Any]]) -> None:
    run = executing[0]
    with store.transaction() as tx:
        done = tx.all("complete_runs_logged", now=T0 + 1, ids=[run["id"]],
                      lease_ids=[run["lease_id"]], outputs=["null"], executed=[1.0],
                      costs=[0.0], attempts=[1])
        compound = tx.compound_writes
    assert [r["id"] for r in done] == [run["id"]]
    assert ("complete" in _events(store, run["id"])) is compound


def test_compound_writes_says_who_records_new_runs(store: Store, engine: Engine) -> None:
    """``insert_runs`` inserts runs given as one JSON array, and also their ``created``
    events and tags exactly when the store says its statements may write several tables
    (the tags when told some run has tags: ``tagged``)."""
    rows = [_new_run_row(f"run_json_{i}", tags) for i, tags in enumerate([[], ["a", "b"]])]
    with store.transaction() as tx:
        tx.many("insert_runs", [{"rows": json.dumps(rows), "tagged": True}])
        compound = tx.compound_writes
    with store.transaction(write=False) as tx:
        got = [tx.one("get_run", id=r["id"], environment=ENV) for r in rows]
        tagged = [r["run_id"] for tag in "ab"
                  for r in tx.all("realtime_tag_latest", environment=ENV, tag=tag, limit=9)]
    assert [(g["id"], g["status"], g["payload"], g["created_at"], g["updated_at"],
             g["tags"]) for g in got if g] == [
        (r["id"], "QUEUED", '{"n":1}', T0, T0, r["tags"]) for r in rows]
    assert _events(store, rows[1]["id"]) == (["created"] if compound else [])
    assert tagged == ([rows[1]["id"]] * 2 if compound else [])


def test_insert_runs_takes_one_run_as_its_columns(store: Store, engine: Engine) -> None:
    """A single run may come as its columns' values instead of a JSON array (a trigger):
    the same row, and the same event and tags where statements write several tables."""
    row = _new_run_row("run_columns", ["a"]) | {"priority": 2, "ttl": 1.5,
                                                "idempotency_expires_at": T0 + 0.25}
    with store.transaction() as tx:
        tx.many("insert_runs", [{**row, "tagged": True}])
        compound = tx.compound_writes
    with store.transaction(write=False) as tx:
        got = tx.one("get_run", id=row["id"], environment=ENV)
        tagged = [r["run_id"] for r in tx.all("realtime_tag_latest", environment=ENV, tag="a",
                                              limit=9)]
    assert got is not None
    assert {k: got[k] for k in row} == row | {"updated_at": T0}
    assert _events(store, row["id"]) == (["created"] if compound else [])
    assert tagged == ([row["id"]] if compound else [])


def _new_run_row(run_id: str, tags: list[str]) -> dict[str, Any]:
    """A ``runs`` row as ``engine/triggering.build_row`` makes one."""
    return {"id": run_id, "environment": ENV, "task_id": "job", "queue": "default",
            "status": "QUEUED", "payload": '{"n":1}', "priority": 0, "concurrency_key": None,
            "tags": json.dumps(tags), "metadata": "{}", "idempotency_key": None,
            "idempotency_expires_at": None, "max_attempts": 3, "retry": "{}",
            "machine": "small-1x", "max_duration": None, "ttl": None, "available_at": T0,
            "expires_at": None, "parent_id": None, "root_id": None, "batch_id": None,
            "replayed_from": None, "version": None, "traceparent": None, "created_at": T0,
            "queued_at": T0, "updated_at": T0, "created_event": None}


# -- Listener -----------------------------------------------------------------------------


def test_a_listener_hears_a_commit_on_its_channels(store: Store) -> None:
    listener = store.listen(["outlast_changed"])
    try:
        assert isinstance(listener.fileno(), int)
        with store.transaction() as tx:
            tx.notify("outlast_changed", "run_l")
        notes = _heard(listener, lambda notes: ("outlast_changed", "run_l") in notes
                       or (ANY_CHANNEL, "") in notes)
        assert ("outlast_changed", "run_l") in notes or (ANY_CHANNEL, "") in notes
    finally:
        listener.close()


def test_drain_never_blocks(store: Store) -> None:
    listener = store.listen(["outlast_changed"])
    try:
        listener.drain()
        started = time.monotonic()
        assert listener.drain() == []
        assert time.monotonic() - started < 1.0
    finally:
        listener.close()


def test_changed_reports_commits_a_listener_may_have_missed(store: Store,
                                                             store_url: str) -> None:
    """``recheck_every`` says how often to ask ``changed()``; a listener that hears every
    commit says ``math.inf`` and never reports a change."""
    listener = store.listen(["outlast_changed"])
    other = open_store(store_url)  # another process's commits, as far as the store knows
    try:
        assert listener.recheck_every > 0
        listener.changed()
        with other.transaction() as tx:
            tx.many("insert_event", [_event("run_other")])
        expected = not math.isinf(listener.recheck_every)
        assert listener.changed() is expected
        assert listener.changed() is False  # nothing new since the last call
    finally:
        other.close()
        listener.close()


def test_list_runs_reads_executing_and_queued_runs_apart_or_with_the_others(
        store: Store, engine: Engine, executing: list[dict[str, Any]]) -> None:
    """``not_executing`` lists every run but the EXECUTING ones and ``executing`` only
    those, ``not_queued`` and ``queued`` (in its own id order) the same for QUEUED runs, on
    both stores; ``statuses_apart`` says which a page must ask for so (the store's list
    indexes leave them out): a frozenset of statuses either way."""
    queued = trigger_run(engine, "job").row["id"]
    page = {"environment": ENV, "window": 10, "limit": 10}
    with store.transaction(write=False) as tx:
        others = [r["id"] for r in tx.all("list_runs", **page, by_id=True, not_executing=True)]
        started = {r["id"] for r in tx.all("list_runs", **page, by_id=True, executing=True)}
        rest = [r["id"] for r in tx.all("list_runs", **page, by_env_id=True,
                                        not_executing=True, not_queued=True)]
        waiting = [r["id"] for r in tx.all("list_runs", **page, queued=True)]
        apart = tx.statuses_apart
    assert others == [queued]
    assert started == {r["id"] for r in executing}
    assert (rest, waiting) == ([], [queued])
    assert isinstance(apart, frozenset) and apart <= {"EXECUTING", "QUEUED"}
