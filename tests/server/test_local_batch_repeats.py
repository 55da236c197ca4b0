"""A batch of one item repeated (``[item] * n``) is checked and copied once on its way in
process (``calls.batch_items``, ``LocalApi``'s copy of the body, ``RunRequests.batch``):
what it answers, writes and raises is what the same items, each its own object, do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.conftest import definition, register_tasks

from outlast.api.local import _json_roundtrip
from outlast.engine import Engine
from outlast.sdk import calls
from outlast.sdk.client import Client, _batch
from outlast.sdk.handles import BatchHandle
from outlast.sdk.transports import LocalTransport

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
#: what a run's record says that runs of equal items share
SAME = ("task", "status", "payload", "tags", "metadata", "queue", "batch_id", "attempts")

ITEMS: list[tuple[str, list[dict[str, Any]]]] = [
    ("t", [{"payload": None}]),
    ("t", [{"payload": {"n": [1, 2.5, "é"]}, "options": {"tags": ["a"], "delay": "1h"}}]),
    ("t", [{"payload": {"n": 1}}, {"payload": {"n": 2}, "options": {"priority": 3}}]),
    ("t", [{"payload": float("nan")}]),                    # not JSON
    ("t", [{"payload": 1, "options": {"delay": "soon"}}]),  # a bad option
    ("t", [{"payload": 1, "bogus": 2}]),                    # an unknown field
    ("typed", [{"payload": {"n": 3}}]),
    ("typed", [{"payload": {"n": "x"}}]),                   # against the registered schema
    ("typed", [{"payload": {"n": 1}}, {"payload": {"n": "x"}, "options": {"bogus": 1}}]),
    ("t", [{"payload": 1, "options": {"idempotency_key": "k"}}]),
    ("nope", [{"payload": 1}]),                             # an unknown task
]


@pytest.fixture
def client(engine: Engine) -> Client:
    register_tasks(engine, "t", definition("typed", payload_schema=SCHEMA))
    return Client(transport=LocalTransport(engine, "dev"))


def _outcome(engine: Engine, client: Client, task_id: str, items: list[Any]) -> tuple[Any, ...]:
    try:
        batch = client.tasks.batch_trigger(task_id, items)
    except Exception as exc:  # noqa: BLE001 - compared below
        return ("raised", type(exc), str(exc))
    records = [engine.retrieve("dev", h.id) for h in batch]
    return ("answered", [(h.task, h.created) for h in batch],
            [{k: r.get(k) for k in SAME if k != "batch_id"} for r in records],
            len({r["batch_id"] for r in records}), len({h.id for h in batch}))


@pytest.mark.parametrize(("task_id", "kinds"), ITEMS)
@pytest.mark.parametrize("times", [2, 150])
def test_a_repeated_item_is_a_run_each_as_its_own_objects_are(
        engine: Engine, client: Client, task_id: str, kinds: list[dict[str, Any]],
        times: int) -> None:
    """Each kind of item repeated ``times``, one object each time, against an equal
    object each time."""
    repeated: list[dict[str, Any]] = []
    for item in kinds:
        repeated += [item] * times
    own = [dict(item) for item in repeated]
    expected = _outcome(engine, client, task_id, own)
    got = _outcome(engine, client, task_id, repeated)
    if expected[0] == "answered":  # an idempotency key: the second batch finds the runs
        expected = _outcome(engine, client, task_id, own)
    assert got == expected


def test_an_item_a_generator_yields_again_changed_is_read_again(client: Client,
                                                                 engine: Engine) -> None:
    """Only a list's or tuple's repeats are taken as they were: a generator may change
    its one item between yields."""
    def items() -> Iterator[dict[str, Any]]:
        item: dict[str, Any] = {}
        for n in range(3):
            item["payload"] = n
            item["options"] = {"tags": [f"t{n}"]}
            yield item

    batch = client.tasks.batch_trigger("t", items())
    runs = [engine.retrieve("dev", h.id) for h in batch]
    assert [(r["payload"], r["tags"]) for r in runs] == [(0, ["t0"]), (1, ["t1"]), (2, ["t2"])]


def test_the_copy_of_a_repeated_item_is_the_callers_nowhere() -> None:
    item = {"payload": {"n": [1, (2, 3)]}, "options": {}}
    body = {"items": [item] * 100 + [{"payload": 1}]}
    got = _json_roundtrip(body)
    assert got == {"items": [{"payload": {"n": [1, [2, 3]]}, "options": {}}] * 100
                   + [{"payload": 1}]}
    assert all(copy is not item and copy["payload"] is not item["payload"]
               for copy in got["items"])


def _general(client: Client, task_id: str, items: list[Any]) -> tuple[Any, ...]:
    """What ``batch_trigger`` answers the general way (a call sent, its JSON made into
    handles after), or raises."""
    try:
        data = client.send(calls.batch_trigger(task_id, calls.batch_items(items, False)))
    except Exception as exc:  # noqa: BLE001 - compared below
        return ("raised", type(exc), str(exc))
    return _shape(_batch(data, client))


def _shape(batch: BatchHandle) -> tuple[Any, ...]:
    return ("answered", batch.batch_id[:6], [(h.task, h.created) for h in batch],
            all(h._client is not None for h in batch), len({h.id for h in batch}))


@pytest.mark.parametrize(("task_id", "kinds"), ITEMS)
@pytest.mark.parametrize("times", [2, 150])
def test_the_direct_way_answers_as_the_general_way(
        client: Client, task_id: str, kinds: list[dict[str, Any]], times: int) -> None:
    """In process a batch's handles are made by the handler (while the database inserts
    a bulk batch's runs): the same handles, or the same error, as a call sent."""
    items = [item for item in kinds for _ in range(times)]
    expected = _general(client, task_id, items)
    try:
        got = _shape(client.tasks.batch_trigger(task_id, items))
    except Exception as exc:  # noqa: BLE001 - compared below
        got = ("raised", type(exc), str(exc))
    if expected[0] == "answered" and any("idempotency_key" in str(k) for k in kinds):
        expected = _general(client, task_id, items)  # the second finds the first's runs
    assert got == expected
