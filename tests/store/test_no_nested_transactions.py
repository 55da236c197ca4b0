"""Work that needs a task's definition reads it in the transaction it already has.

An engine whose definition cache is cold (another process's, or one whose entries aged)
reads the definition while cancelling, sweeping or recording. The store refuses a second
transaction inside the first (SQLite would drop the inner one's notifications; PostgreSQL
would take a second pooled connection while the first holds row locks), so these must
pass their transaction down, and still announce every run they changed.
"""

from __future__ import annotations

import pytest

from outlast.clock import FakeClock
from outlast.engine import Engine, Outcome
from outlast.engine.events import CHANGED_CHANNEL
from outlast.errors import TaskNotFoundError
from outlast.store import Store
from outlast.store.protocol import NestedTransactionError
from tests.conftest import LEASE_SECONDS, definition, register_tasks, trigger_run

ENV = "dev"


@pytest.fixture
def cold(store: Store, clock: FakeClock) -> Engine:
    """A second engine on the same database, with nothing cached."""
    return Engine(store, clock=clock, lease_seconds=LEASE_SECONDS)


@pytest.fixture
def changed(store: Store) -> list[str]:
    """Run ids announced on the changed channel, after each commit of this process."""
    heard: list[str] = []
    store.add_local_listener(
        lambda channel, payload: heard.append(payload) if channel == CHANGED_CHANNEL else None)
    return heard


def _with_failure_hook(engine: Engine) -> None:
    register_tasks(engine, definition("job", hooks=("on_failure",)))


def test_a_cancel_reading_the_definition_announces_the_run(
        engine: Engine, cold: Engine, changed: list[str]) -> None:
    _with_failure_hook(engine)
    run_id = trigger_run(engine, "job").row["id"]
    changed.clear()
    assert cold.cancel(ENV, run_id)["status"] == "CANCELED"
    assert run_id in changed


def test_a_sweep_expiring_a_run_announces_it(engine: Engine, cold: Engine, clock: FakeClock,
                                              changed: list[str]) -> None:
    _with_failure_hook(engine)
    run_id = trigger_run(engine, "job", ttl="10s").row["id"]
    clock.advance(11)
    changed.clear()
    assert cold.sweep().expired == 1
    assert run_id in changed


def test_a_sweep_recovering_a_lost_run_announces_it(engine: Engine, cold: Engine,
                                                    clock: FakeClock,
                                                    changed: list[str]) -> None:
    _with_failure_hook(engine)
    trigger_run(engine, "job")
    [row] = engine.claim(ENV, "w", None, 1)
    clock.advance(LEASE_SECONDS + 1)
    changed.clear()
    assert cold.sweep().recovered == 1
    assert row["id"] in changed


def test_recording_a_failure_announces_the_run(engine: Engine, cold: Engine,
                                               changed: list[str]) -> None:
    _with_failure_hook(engine)
    trigger_run(engine, "job")
    [row] = engine.claim(ENV, "w", None, 1)
    changed.clear()
    error = {"type": "ValueError", "message": "no"}
    [decision] = cold.record([Outcome(row["id"], row["lease_id"], 1, "failed", error=error)])
    assert decision is not None
    assert row["id"] in changed


def test_a_definition_read_in_an_open_transaction_opens_none(engine: Engine,
                                                             cold: Engine) -> None:
    register_tasks(engine, "job")
    with cold.store.transaction() as tx:
        assert cold.definition(ENV, "job", tx).id == "job"
        with pytest.raises(TaskNotFoundError):  # its import failures read there too
            cold.definition(ENV, "nothing", tx)


def test_a_definition_read_without_one_still_refuses_to_nest(cold: Engine) -> None:
    """The programming error is loud, not a silent second transaction."""
    with cold.store.transaction(write=False), pytest.raises(NestedTransactionError):
        cold.definition(ENV, "job")

