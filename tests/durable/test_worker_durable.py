"""Durable execution on a real worker (the Supervisor on a thread, children as processes),
on both stores: waits free their slot, tokens resume runs from every door, and a parent
always resumes once every child is final, however the child ended."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import tests.worker.support as worker_support
from outlast.clock import FakeClock
from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun, Outcome
from outlast.engine.durable import Op
from outlast.errors import ConflictError
from outlast.sdk.client import Client
from outlast.sdk.transports import LocalTransport
from outlast.server.app import create_app
from outlast.store import Store
from outlast.worker.supervisor import Supervisor
from tests.eventually import eventually
from tests.worker.support import trigger, wait_final, wait_status

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

PROJECT = Path(__file__).parent / "project"


@pytest.fixture
def live_engine(store: Store, tmp_path: Path) -> Engine:
    """Real time (waits and ttls must really pass) and a short lease."""
    return Engine(store, lease_seconds=3)


def running_worker(engine: Engine, concurrency: int = 4) -> AbstractContextManager[Supervisor]:
    """The worker tests' supervisor, over this folder's task project."""
    return worker_support.running_worker(engine, concurrency, root=PROJECT, probe="dw-parent")


def busy(sup: Supervisor) -> int:
    return sum(c.job is not None for c in sup.children)


def token_of(engine: Engine, run_id: str, timeout: float = 30) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def one() -> bool:
        tokens, _ = engine.durable.list_tokens("dev", run_id=run_id, status="PENDING")
        found[:] = tokens
        return len(tokens) == 1

    eventually(one, timeout, f"the token of {run_id}")
    return found[0]  # its callback URL, derived from its id again


def children_of(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    return engine.list_runs("dev", parent_id=run_id, limit=100)[0]


# -- waits hold no process ---------------------------------------------------------------


def test_a_long_sleep_suspends_frees_the_slot_and_resumes_on_time(live_engine: Engine) -> None:
    with running_worker(live_engine, concurrency=1) as sup:
        run_id = trigger(live_engine, "dw-sleep", {"seconds": 5.5})
        wait_status(live_engine, run_id, "WAITING", 10)
        waiting_since = live_engine.clock.now()
        assert busy(sup) == 0
        other = wait_final(live_engine, trigger(live_engine, "dw-ok", "meanwhile"), 10)
        assert other["status"] == "COMPLETED"  # the only slot was free
        run = wait_final(live_engine, run_id, 20)
    assert run["status"] == "COMPLETED" and run["output"] == {"slept": 5.5}
    assert run["attempts"] == 1
    [sleep] = live_engine.durable.run_journal(run_id)
    lateness = run["finished_at"] - sleep["result"]["until"]
    assert 0 <= lateness < 3.0, f"resumed {lateness:.2f}s after the due time"
    assert run["finished_at"] - waiting_since >= 5.0
    kinds = [e["kind"] for e in live_engine.events(run_id)]
    assert "suspend" in kinds


# -- tokens ------------------------------------------------------------------------------


def http_client(engine: Engine) -> TestClient:
    return TestClient(create_app(engine, scheduler=False))


def test_token_completed_through_its_callback_url_without_a_key(live_engine: Engine) -> None:
    with running_worker(live_engine) as _, http_client(live_engine) as http:
        run_id = trigger(live_engine, "dw-token", {"tags": ["review"]})
        token = token_of(live_engine, run_id)
        wait_status(live_engine, run_id, "WAITING")
        path = urlsplit(token["url"]).path
        first = http.post(path, json={"approved": True, "by": "Zoë"})
        assert first.status_code == 200, first.text
        assert first.json() == {"id": token["id"], "status": "COMPLETED"}
        second = http.post(path, json={"approved": False})
        assert second.status_code == 409
        assert second.json()["error"]["code"] == "conflict"
        wrong = http.post(path.rsplit("/", 1)[0] + "/not-the-secret", json={})
        assert wrong.status_code == 404
        run = wait_final(live_engine, run_id)
    assert run["status"] == "COMPLETED"
    assert run["output"] == {"ok": True, "output": {"approved": True, "by": "Zoë"},
                             "error": None}
    assert run["attempts"] == 1


def test_a_resumed_run_replays_its_token_with_the_same_url(live_engine: Engine) -> None:
    with running_worker(live_engine) as _, http_client(live_engine) as http:
        run_id = trigger(live_engine, "dw-token-url")
        token = token_of(live_engine, run_id)
        wait_status(live_engine, run_id, "WAITING")
        assert http.post(urlsplit(token["url"]).path, json={}).status_code == 200
        run = wait_final(live_engine, run_id)
    assert (run["status"], run["output"]) == ("COMPLETED", token["url"])


def test_token_completed_through_the_client_and_twice_is_a_conflict(
        live_engine: Engine) -> None:
    client = Client(transport=LocalTransport(live_engine, "dev"))
    with running_worker(live_engine):
        run_id = trigger(live_engine, "dw-token")
        token = token_of(live_engine, run_id)
        wait_status(live_engine, run_id, "WAITING")
        done = client.tokens.complete(token["id"], None)
        assert done["status"] == "COMPLETED"
        with pytest.raises(ConflictError):
            client.tokens.complete(token["id"], {"again": True})
        with pytest.raises(ConflictError):
            live_engine.durable.complete_token("dev", token["id"], 1)
        run = wait_final(live_engine, run_id)
        timed = wait_final(live_engine, trigger(live_engine, "dw-token", {"timeout": "1s"}))
    assert run["output"] == {"ok": True, "output": None, "error": None}
    assert timed["output"] == {"ok": False, "output": None,
                               "error": {"type": "Timeout", "message": "timeout"}}
    events = [e["kind"] for e in live_engine.events(run_id)]
    assert events.count("suspend") == 1  # the second completion resumed nothing


# -- child runs: the parent always resumes -----------------------------------------------


@contextmanager
def held_gate(engine: Engine, tmp_path: Path) -> Iterator[None]:
    """The gate queue's only slot taken, so children queued behind it expire by ttl."""
    release = tmp_path / "release"
    hog = trigger(engine, "dw-gated", {"release": str(release)})
    wait_status(engine, hog, "EXECUTING")
    try:
        yield
    finally:
        release.touch()
        wait_final(engine, hog)


def cancel_token_children(engine: Engine, parents: list[str]) -> int:
    """Cancel every child of ``parents`` that waits for a token; how many were."""
    canceled = 0
    for parent in parents:
        for child in children_of(engine, parent):
            if child["task"] == "dw-token" and child["status"] == "WAITING":
                engine.cancel("dev", child["id"])
                canceled += 1
    return canceled


def final_or_explain(engine: Engine, parent: str, timeout: float = 60) -> dict[str, Any]:
    """The parent once final; if it never gets there, say where it and its children are."""
    try:
        return wait_final(engine, parent, timeout)
    except AssertionError:
        run = engine.retrieve("dev", parent)
        kids = [(c["task"], c["status"]) for c in children_of(engine, parent)]
        journal = [(e["seq"], e["kind"], e["status"]) for e in engine.durable.run_journal(parent)]
        raise AssertionError(f"parent {parent} is {run['status']} with payload "
                             f"{run['payload']}; children {kids}; journal {journal}") from None


KINDS = ["ok", "fail", "crash", "expire", "cancel"]
STATUS = {"ok": "COMPLETED", "fail": "FAILED", "crash": "CRASHED", "expire": "EXPIRED",
          "cancel": "CANCELED"}


def test_parents_resume_whatever_their_children_became(live_engine: Engine,
                                                       tmp_path: Path) -> None:
    with running_worker(live_engine, concurrency=4), held_gate(live_engine, tmp_path):
        singles = {k: trigger(live_engine, "dw-parent", {"kinds": [k]}) for k in KINDS}
        both = trigger(live_engine, "dw-parent", {"kinds": KINDS, "batch": True})
        parents = [*singles.values(), both]
        to_cancel = 2
        eventually(lambda: sum(c["task"] == "dw-token" and c["status"] == "WAITING"
                                for p in parents for c in children_of(live_engine, p))
                    == to_cancel, 30, "the token-waiting children")
        assert cancel_token_children(live_engine, parents) == to_cancel
        finals = {p: final_or_explain(live_engine, p) for p in parents}

    for kind, parent in singles.items():
        run = finals[parent]
        assert run["status"] == "COMPLETED", (kind, run["error"])
        [[ok, status, output]] = run["output"]
        assert (ok, status) == (kind == "ok", STATUS[kind])
        assert output == ({"v": "ü"} if kind == "ok" else None)
    batch = finals[both]
    assert batch["status"] == "COMPLETED", batch["error"]
    assert [[ok, status] for ok, status, _ in batch["output"]] == [
        [k == "ok", STATUS[k]] for k in KINDS]  # in input order
    for parent in parents:
        assert finals[parent]["attempts"] == 1, [a["error"] for a in live_engine.attempts(parent)]
        for child in children_of(live_engine, parent):
            assert child["root_id"] == parent and child["is_final"]


def test_a_child_expiring_by_ttl_resumes_its_waiting_parent(
        engine: Engine, clock: FakeClock, register: Callable[..., Any]) -> None:
    """Engine level, fake clock: the sweeper's expiry completes the parent's waitpoint."""
    register(engine, "parent", "child")
    parent = trigger(engine, "parent")
    [row] = engine.claim("dev", "w", None, 1)
    at = Op(parent, row["lease_id"], 0, "trigger_wait", "child")
    child = NewRun("child", "null", parse_options({"ttl": "1m"}, clock.now()))
    answer = engine.durable.trigger(at, "dev", [child], wait=True, batch=False)
    assert answer["done"] is False
    engine.record([Outcome(parent, row["lease_id"], 1, "suspended")])
    assert engine.retrieve("dev", parent)["status"] == "WAITING"
    clock.advance(120)
    assert engine.sweep().expired == 1
    assert engine.retrieve("dev", answer["ids"][0])["status"] == "EXPIRED"
    assert engine.retrieve("dev", parent)["status"] == "QUEUED"
    [entry] = engine.durable.run_journal(parent)
    assert entry["status"] == "ok" and entry["result"]["status"] == "EXPIRED"
    assert entry["result"]["ok"] is False


def test_batch_of_one_task_resumes_after_completion_timeout_and_cancel(
        live_engine: Engine) -> None:
    with running_worker(live_engine):
        parent = trigger(live_engine, "dw-token-batch")
        eventually(lambda: len(children_of(live_engine, parent)) == 3, 30, "children")
        kids = {c["payload"]["tags"][0]: c["id"] for c in children_of(live_engine, parent)}
        wait_status(live_engine, kids["item-0"], "WAITING")
        live_engine.durable.complete_token("dev", token_of(live_engine, kids["item-0"])["id"],
                                           "yes")
        wait_status(live_engine, kids["item-2"], "WAITING")
        live_engine.cancel("dev", kids["item-2"])
        run = wait_final(live_engine, parent)
    assert run["status"] == "COMPLETED", run["error"]
    assert run["output"] == [
        [True, "COMPLETED", {"ok": True, "output": "yes", "error": None}],
        [True, "COMPLETED", {"ok": False, "output": None,
                             "error": {"type": "Timeout", "message": "timeout"}}],
        [False, "CANCELED", None],
    ]


def test_canceling_a_waiting_parent_cancels_its_waiting_children(live_engine: Engine) -> None:
    with running_worker(live_engine):
        parent = trigger(live_engine, "dw-parent", {"kinds": ["cancel", "cancel"],
                                                    "batch": True})
        eventually(lambda: [c["status"] for c in children_of(live_engine, parent)]
                    == ["WAITING", "WAITING"], 30, "both children waiting")
        wait_status(live_engine, parent, "WAITING")
        live_engine.cancel("dev", parent)
        run = live_engine.retrieve("dev", parent)
        kids = children_of(live_engine, parent)
    assert run["status"] == "CANCELED"
    assert [c["status"] for c in kids] == ["CANCELED", "CANCELED"]


# -- a thousand waits, one slot ----------------------------------------------------------

N_WAITING = 1000


def waiting_count(engine: Engine) -> int:
    return len(engine.list_runs("dev", status=["WAITING"], task="dw-token", limit=1000)[0])


def test_a_thousand_runs_wait_on_tokens_with_one_slot(live_engine: Engine) -> None:
    with running_worker(live_engine, concurrency=1) as sup:
        now = live_engine.clock.now()
        requests = [NewRun("dw-token", '{"tags": ["many"]}', parse_options({}, now))
                    for _ in range(N_WAITING)]
        ids = [t.row["id"] for t in live_engine.trigger_batch("dev", requests)]
        eventually(lambda: waiting_count(live_engine) == N_WAITING, 240, "all runs waiting")
        assert busy(sup) == 0 and len(sup.children) == 1
        tokens, more = live_engine.durable.list_tokens("dev", tag="many", status="PENDING",
                                                       limit=1000)
        assert len(tokens) == N_WAITING and more is None
        for i, token in enumerate(tokens):
            live_engine.durable.complete_token("dev", token["id"], i)
        eventually(lambda: len(live_engine.list_runs("dev", status=["COMPLETED"], task="dw-token",
                                                      limit=1000)[0]) == N_WAITING,
                    240, "all runs completed")
    outputs = sorted(live_engine.retrieve("dev", r)["output"]["output"] for r in ids)
    assert outputs == list(range(N_WAITING))
