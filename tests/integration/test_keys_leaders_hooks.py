"""API keys, the leader lease and pending failure hooks, on both stores."""

from __future__ import annotations

from typing import Any

import pytest

from outlast.core.definitions import TaskDefinition
from outlast.core.retry import Retry
from outlast.engine import Engine

from .support import outcome

ENV = "dev"


def test_api_keys(engine: Engine) -> None:
    dev = engine.create_api_key("dev")
    prod = engine.create_api_key("prod")
    assert dev != prod and dev.startswith("ol_dev_") and prod.startswith("ol_prod_")
    assert engine.authenticate(dev) == "dev"
    assert engine.authenticate(prod) == "prod"
    assert engine.authenticate(dev + "x") is None
    assert engine.authenticate("") is None
    assert engine.authenticate("ol_dev_guess") is None


def test_api_keys_are_stored_hashed(engine: Engine) -> None:
    key = engine.create_api_key("dev")
    with engine.store.transaction(write=False) as tx:
        rows = tx.all("list_api_keys", environment=None)
    assert len(rows) == 1
    assert key not in str(rows[0])
    assert key.startswith(rows[0]["prefix"])


def test_leader_lease_has_one_holder_until_it_expires(engine: Engine, clock: Any) -> None:
    assert engine.try_lead("sweeper", "a", ttl=10)
    assert not engine.try_lead("sweeper", "b", ttl=10)
    clock.advance(5)
    assert engine.try_lead("sweeper", "a", ttl=10)  # renewed until now + 10
    clock.advance(9)
    assert not engine.try_lead("sweeper", "b", ttl=10)
    clock.advance(2)  # a did not renew in time
    assert engine.try_lead("sweeper", "b", ttl=10)
    assert not engine.try_lead("sweeper", "a", ttl=10)
    assert engine.try_lead("scheduler", "a", ttl=10)  # leases are per name


def test_released_leader_lease_is_free_at_once(engine: Engine) -> None:
    assert engine.try_lead("sweeper", "a", ttl=60)
    engine.release_lead("sweeper", "b")  # not the holder: no effect
    assert not engine.try_lead("sweeper", "b", ttl=60)
    engine.release_lead("sweeper", "a")
    assert engine.try_lead("sweeper", "b", ttl=60)


@pytest.fixture
def hooked(engine: Engine, register: Any) -> None:
    register(
        engine,
        TaskDefinition(id="hooked", queue="hooked", hooks=("on_failure",),
                       retry=Retry(max_attempts=1, randomize=False)),
        TaskDefinition(id="plain", queue="plain", retry=Retry(max_attempts=1)),
    )


def claim_hook_ids(engine: Engine) -> list[str]:
    return [r["id"] for r in engine.claim_hooks(ENV, None, 10)]


@pytest.mark.usefixtures("hooked")
def test_expired_run_with_on_failure_gets_its_hook_once(
    engine: Engine, clock: Any, trigger: Any
) -> None:
    run_id = trigger(engine, "hooked", ttl="1m").row["id"]
    plain = trigger(engine, "plain", ttl="1m").row["id"]
    clock.advance(60)
    assert engine.sweep().expired == 2
    assert claim_hook_ids(engine) == [run_id]
    assert claim_hook_ids(engine) == []
    assert plain != run_id


@pytest.mark.usefixtures("hooked")
def test_canceled_run_with_on_failure_gets_its_hook_once(engine: Engine, trigger: Any) -> None:
    executing = trigger(engine, "hooked").row["id"]
    assert [r["id"] for r in engine.claim(ENV, "w", ["hooked"], 1)] == [executing]
    queued = trigger(engine, "hooked").row["id"]
    trigger(engine, "plain")
    engine.cancel(ENV, queued)
    engine.cancel(ENV, executing)
    hooks = engine.claim_hooks(ENV, None, 10)
    assert sorted(r["id"] for r in hooks) == sorted([queued, executing])
    assert {r["hook_pending"] for r in hooks} == {"on_failure"}
    assert claim_hook_ids(engine) == []


@pytest.mark.usefixtures("hooked")
def test_failed_run_gets_its_hook_unless_the_child_ran_it(engine: Engine, trigger: Any) -> None:
    a = trigger(engine, "hooked").row["id"]
    b = trigger(engine, "hooked").row["id"]
    rows = {r["id"]: r for r in engine.claim(ENV, "w", None, 2)}
    engine.record([outcome(rows[a], "failed"), outcome(rows[b], "failed", hooks_done=True)])
    assert claim_hook_ids(engine) == [a]


@pytest.mark.usefixtures("hooked")
def test_completed_run_gets_no_failure_hook(engine: Engine, trigger: Any) -> None:
    trigger(engine, "hooked")
    [row] = engine.claim(ENV, "w", None, 1)
    engine.record([outcome(row)])
    assert claim_hook_ids(engine) == []


@pytest.mark.usefixtures("hooked")
def test_finished_hook_is_not_claimed_again_and_stale_claims_are_released(
    engine: Engine, clock: Any, trigger: Any
) -> None:
    a = trigger(engine, "hooked").row["id"]
    b = trigger(engine, "hooked").row["id"]
    engine.cancel(ENV, a)
    engine.cancel(ENV, b)
    hooks = {r["id"]: r for r in engine.claim_hooks(ENV, None, 10)}
    engine.finish_hook(a, hooks[a]["hook_lease"])
    engine.finish_hook(b, "hook_wrong")  # a stale holder cannot finish it
    clock.advance(10 * engine.lease_seconds + 1)
    engine.sweep()
    assert claim_hook_ids(engine) == [b]


@pytest.mark.usefixtures("hooked")
def test_claim_hooks_by_queue(engine: Engine, trigger: Any) -> None:
    run_id = trigger(engine, "hooked").row["id"]
    engine.cancel(ENV, run_id)
    assert engine.claim_hooks(ENV, ["plain"], 10) == []
    assert claim_hook_ids(engine) == [run_id]
