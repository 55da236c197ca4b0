"""Reproducing a recorded run locally: ``TestRuns.from_run`` and ``outlast runs debug``.

The "server" is a ``TestRuns`` on the parametrized store, read through its client; the
copy is a fresh local ``TestRuns``. A recorded step's result comes back without its body
running (the local source of the value has changed meanwhile), and a later step's failure
happens again, here."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from outlast import step, task, wait
from outlast.cli import run_debug
from outlast.cli.main import cli
from outlast.sdk.registry import Registry, default_registry
from outlast.testing import TestRuns, replayable

reg = Registry()
#: what the price step reads: changed after the run was recorded
prices = {"book": 41}
ran: list[str] = []


def price_of(item: str) -> int:
    ran.append("price")
    return prices[item]


def charge(amount: int) -> str:
    ran.append("charge")
    limit = 40
    if amount > limit:
        raise RuntimeError(f"amount {amount} over the limit")
    return f"charged {amount}"


@task(id="checkout", registry=reg)
def checkout(payload: dict[str, Any]) -> str:
    amount = step.run("price", price_of, payload["item"])
    if payload.get("review"):
        answer = wait.for_token(wait.create_token(timeout="1h"))
        amount = answer.output["amount"]
    if payload.get("nap"):
        wait.sleep(hours=3)
    return str(step.run("charge", charge, amount))


@pytest.fixture
def server(store_url: str) -> Iterator[TestRuns]:
    ran.clear()
    prices["book"] = 41
    with TestRuns(reg, environment="dev", database_url=store_url) as env:
        yield env


def test_a_recorded_step_is_not_run_again_and_a_later_failure_happens_again(
        server: TestRuns) -> None:
    recorded = server.run("checkout", {"item": "book"})
    assert recorded.status == "FAILED"
    prices["book"] = 10  # a re-run price step would now succeed
    ran.clear()
    with TestRuns.from_run(recorded.id, client=server.client, registry=reg) as env:
        assert env.loaded == {recorded.id: 1}
        local = env.run_until_final(recorded.id)
        assert local.id == recorded.id
        assert local.status == "FAILED"
        assert local.error is not None
        assert local.error["message"] == "amount 41 over the limit"  # the recorded price
        assert "price" not in ran and "charge" in ran
        assert [(e.seq, e.kind, e.name, e.result) for e in env.journal(local.id)] == [
            (0, "step", "price", 41)]


def test_a_completed_token_wait_replays_its_recorded_answer(server: TestRuns) -> None:
    recorded = server.run("checkout", {"item": "book", "review": True})
    [token] = server.tokens(recorded.id)
    server.complete_token(token["id"], {"amount": 12})
    assert server.run_until_final(recorded.id).output == "charged 12"
    with TestRuns.from_run(recorded.id, client=server.client, registry=reg) as env:
        assert env.loaded == {recorded.id: 4}  # price, token, wait, charge
        ran.clear()
        assert env.run_until_final(recorded.id).output == "charged 12"
        assert ran == []


def test_a_run_in_flight_goes_on_live_here(server: TestRuns) -> None:
    recorded = server.run("checkout", {"item": "book", "review": True, "nap": True})
    assert recorded.status == "WAITING"  # on the server, for a reviewer
    with TestRuns.from_run(recorded.id, client=server.client, registry=reg) as env:
        assert env.loaded == {recorded.id: 1}  # the server's token is not here: a new one
        assert env.run_until_final(recorded.id).status == "WAITING"
        [token] = env.tokens(recorded.id)
        env.complete_token(token["id"], {"amount": 12})
        local = env.run_until_final(recorded.id)  # the three-hour nap passes at once
        assert local.output == "charged 12"
        assert [e.kind for e in env.journal(recorded.id)] == [
            "step", "create_token", "wait_token", "sleep", "step"]
    assert server.retrieve(recorded.id).status == "WAITING"  # the server's run is untouched


def entry(seq: int, kind: str, name: str, result: Any = None,
          status: str = "ok") -> dict[str, Any]:
    return {"seq": seq, "kind": kind, "name": name, "status": status, "result": result}


@pytest.mark.parametrize(("entries", "kept"), [
    ([], 0),
    ([entry(0, "step", "a"), entry(1, "step", "b")], 2),
    ([entry(0, "step", "a"), entry(1, "sleep", "sleep", status="pending")], 1),
    ([entry(1, "step", "b"), entry(0, "step", "a")], 2),                      # out of order
    ([entry(0, "step", "a"), entry(2, "step", "c")], 1),                      # a gap
    ([entry(0, "create_token", "token", {"id": "t1"}), entry(1, "step", "a"),
      entry(2, "wait_token", "t1", status="pending")], 0),                   # token not local
    ([entry(0, "create_token", "token", {"id": "t1"}),
      entry(1, "wait_token", "t1", {"ok": True})], 2),                        # waited: replays
])
def test_the_part_of_a_journal_a_local_copy_replays(entries: list[dict[str, Any]],
                                                    kept: int) -> None:
    assert [e["seq"] for e in replayable(entries)] == list(range(kept))


# -- the command -----------------------------------------------------------------------------

PROJECT_TASKS = '''
from outlast import Retry, step, task

SOURCE = {"price": 10}


def price():
    return SOURCE["price"]


def charge(amount):
    limit = 40
    if amount > limit:
        raise RuntimeError(f"amount {amount} over the limit")
    return amount


@task(id="dbg-checkout", retry=Retry(max_attempts=1))
def checkout(payload):
    amount = step.run("price", price)
    return step.run("charge", charge, amount)
'''


@contextmanager
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A project whose tasks the command imports; the default registry is put back after."""
    root = tmp_path / "dbgproject"
    (root / "dbg_tasks").mkdir(parents=True)
    (root / "outlast.toml").write_text('dirs = ["dbg_tasks"]\n')
    (root / "dbg_tasks" / "flows.py").write_text(textwrap.dedent(PROJECT_TASKS))
    monkeypatch.chdir(root)
    before = default_registry.snapshot()
    try:
        from outlast.sdk.registry import import_task_files

        assert import_task_files(["dbg_tasks"], root) == {}
        yield sys.modules["dbg_tasks.flows"]
    finally:
        default_registry.restore(before)
        for name in [m for m in sys.modules if m == "dbg_tasks" or m.startswith("dbg_tasks.")]:
            del sys.modules[name]
        if str(root.resolve()) in sys.path:
            sys.path.remove(str(root.resolve()))


def test_runs_debug_prints_the_replayed_operations_and_the_failure(
        store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with project(tmp_path, monkeypatch) as flows:
        flows.SOURCE["price"] = 41
        with TestRuns(default_registry, environment="dev", database_url=store_url) as server:
            recorded = server.run("dbg-checkout")
            assert recorded.status == "FAILED"
            flows.SOURCE["price"] = 10  # what the price step would say if it ran again
            monkeypatch.setattr(run_debug, "client_session", lambda url, key: _given(server))
            result = CliRunner().invoke(cli, ["runs", "debug", recorded.id, "--pdb"],
                                        input="p limit\np amount\nq\n")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert any(line.split()[:4] == ["#0", "step", "price", "recorded"] for line in lines)
    assert "outcome: FAILED RuntimeError: amount 41 over the limit" in result.output
    assert "flows.py(14)charge()" in result.output  # pdb, in the frame that raised
    assert "(Pdb) 40" in lines and "(Pdb) 41" in lines


@contextmanager
def _given(server: TestRuns) -> Iterator[Any]:
    yield server.client
