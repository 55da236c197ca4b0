"""``Client(database_url).tasks.trigger`` reaches the trigger handler without a ``Call`` or
a path to match (``LocalTransport.trigger``): what it answers and raises is what the
general way (``send(calls.trigger(...))``) answers and raises, on both stores, and the
same for ``AsyncClient``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.conftest import definition, register_tasks

import outlast.api.local as local_api
from outlast.engine import Engine
from outlast.sdk import calls
from outlast.sdk.client import AsyncClient, Client
from outlast.sdk.transports import AsyncLocalTransport, LocalTransport

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}

CASES: list[tuple[Any, Any, dict[str, Any]]] = [
    ("t", None, {}),
    ("t", {"n": [1, 2.5, "é", None]}, {"tags": ["a", "b"], "metadata": {"k": 1},
                                       "priority": 2, "max_attempts": 5}),
    ("t", (1, 2), {}),                      # a tuple arrives as a list
    ("t", {1: "one"}, {}),                  # a number key arrives as text
    ("t", float("nan"), {}),                # not JSON
    ("t", {1, 2}, {}),                      # not JSON
    ("t", None, {"delay": "soon"}),         # a bad option
    ("t", None, {"bogus": 1}),              # an unknown option
    ("t", None, {"tags": "x" * 200}),       # a tag too long
    ("t", None, {"delay": "1h", "ttl": "2h"}),
    ("t", None, {"idempotency_key": "k1"}),
    ("nope", None, {}),                     # an unknown task
    ("typed", {"n": "x"}, {}),              # against the registered schema
    ("typed", {"n": 3}, {}),
    ("nope", None, {"delay": "soon"}),      # errors in the order the general way meets them
    ("t", float("nan"), {"bogus": 1}),
    ("typed", {"n": "x"}, {"bogus": 1}),
    ("nope", {1, 2}, {}),
    ("a b", None, {}),                      # not its own path segment: the general way
    ("t/x", None, {}),
    ("t\x00", None, {}),
    ("", None, {}),
    (7, None, {}),
]
#: what a run's record says that two triggers of the same request share
SAME = ("task", "status", "payload", "tags", "metadata", "queue", "idempotency_key",
        "attempts")


def _outcome(engine: Engine, do: Any) -> tuple[Any, ...]:
    try:
        answer = do()
    except Exception as exc:  # noqa: BLE001 - compared below
        return ("raised", type(exc), str(exc))
    record = engine.retrieve("dev", answer["id"])
    return ("answered", answer["task"], answer.get("created"),
            {k: record.get(k) for k in SAME})


def _general(engine: Engine, transport: LocalTransport, task_id: Any, payload: Any,
             options: dict[str, Any]) -> tuple[Any, ...]:
    """The general way's outcome of the request made a second time (with an idempotency
    key, the first made the run the next ones find)."""
    def send() -> Any:
        return transport.send(calls.trigger(task_id, payload, options))

    _outcome(engine, send)
    return _outcome(engine, send)


@pytest.fixture
def tasks(engine: Engine) -> Engine:
    register_tasks(engine, "t", definition("typed", payload_schema=SCHEMA))
    return engine


@pytest.mark.parametrize(("task_id", "payload", "options"), CASES)
def test_the_direct_way_answers_and_fails_as_the_general_way(
        tasks: Engine, task_id: Any, payload: Any, options: dict[str, Any]) -> None:
    transport = LocalTransport(tasks, "dev")
    general = _general(tasks, transport, task_id, payload, options)
    direct = _outcome(tasks, lambda: transport.trigger(task_id, payload, options))
    assert direct == general
    handle: Any = None
    try:
        handle = Client(transport=transport).tasks.trigger(task_id, payload, **options)
    except Exception as exc:  # noqa: BLE001 - compared below
        assert general[0] == "raised" and (type(exc), str(exc)) == general[1:]
    else:
        assert general[0] == "answered" and handle.task == general[1]


@pytest.mark.parametrize(("task_id", "payload", "options"), CASES)
def test_the_async_client_takes_the_same_way(
        tasks: Engine, task_id: Any, payload: Any, options: dict[str, Any]) -> None:
    local = LocalTransport(tasks, "dev")
    general = _general(tasks, local, task_id, payload, options)

    async def trigger() -> Any:
        client = AsyncClient(transport=AsyncLocalTransport(local, owns_local=False))
        handle = await client.tasks.trigger(task_id, payload, **options)
        return {"id": handle.id, "task": handle.task, "created": handle.created}

    assert _outcome(tasks, lambda: asyncio.run(trigger())) == general


def test_a_plain_task_id_is_not_matched_against_the_routes(
        tasks: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_match(method: str, path: str) -> Any:
        raise AssertionError(f"matched {method} {path}")

    monkeypatch.setattr(local_api, "match", no_match)
    client = Client(transport=LocalTransport(tasks, "dev"))
    first = client.tasks.trigger("t", {"n": 1}, idempotency_key="once")
    again = client.tasks.trigger("t", {"n": 2}, idempotency_key="once")
    assert first.created and not again.created and again.id == first.id
    with pytest.raises(AssertionError, match="matched POST /tasks/a%20b/trigger"):
        client.tasks.trigger("a b")
