"""A typed task triggered by id over HTTP, on a server that has not imported its code:
the payload is checked against the JSON schema its worker registered."""

from __future__ import annotations

import pydantic
from starlette.testclient import TestClient

from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine

API = "/api/v1"


class Order(pydantic.BaseModel):
    order_id: str
    quantity: int = pydantic.Field(gt=0)


def test_payload_is_checked_against_the_registered_schema(
        client: TestClient, engine: Engine) -> None:
    engine.register_tasks("dev", [TaskDefinition(id="ship", queue="ship",
                                                 payload_schema=Order.model_json_schema())])
    good = client.post(f"{API}/tasks/ship/trigger",
                       json={"payload": {"order_id": "A1", "quantity": 2}})
    assert good.status_code == 201
    bad = client.post(f"{API}/tasks/ship/trigger", json={"payload": {"quantity": 0}})
    assert bad.status_code == 400
    message = bad.json()["error"]["message"]
    assert "order_id" in message and "quantity" in message
    batch = client.post(f"{API}/tasks/ship/batch", json={"items": [
        {"payload": {"order_id": "B", "quantity": 1}}, {"payload": "not an order"}]})
    assert batch.status_code == 400
    listed = client.get(f"{API}/runs", params={"task": "ship"}).json()["data"]
    assert [r["id"] for r in listed] == [good.json()["id"]]  # nothing else was written


def _ship(engine: Engine) -> None:
    engine.register_tasks("dev", [TaskDefinition(id="ship", queue="ship",
                                                 payload_schema=Order.model_json_schema())])


def _order(i: int) -> dict[str, object]:
    return {"order_id": f"o{i}", "quantity": 1}


def _runs(client: TestClient) -> list[dict[str, object]]:
    return list(client.get(f"{API}/runs", params={"task": "ship", "limit": 1000}).json()["data"])


def test_a_bulk_batch_with_one_bad_payload_deep_inside_writes_nothing(
        client: TestClient, engine: Engine) -> None:
    """The items of a batch that share their options have their payloads checked as the
    runs are written (PostgreSQL: while the rows before are on their way): the bad one
    fails it whole, with its own 400, and nothing is written."""
    _ship(engine)
    items = [{"payload": _order(i)} for i in range(1000)]
    items[700] = {"payload": {"order_id": "bad", "quantity": 0}}
    r = client.post(f"{API}/tasks/ship/batch", json={"items": items})
    assert r.status_code == 400
    assert "quantity" in r.json()["error"]["message"]
    assert _runs(client) == []
    items[700] = {"payload": _order(700)}
    ok = client.post(f"{API}/tasks/ship/batch", json={"items": items})
    assert ok.status_code == 201 and len(_runs(client)) == 1000


def test_a_batch_fails_with_its_first_bad_items_error_whatever_kind_comes_later(
        client: TestClient, engine: Engine) -> None:
    """An item is checked field by field (its fields, its payload, its options) and the
    items in order: a bad payload before a bad option or an unknown field is the error."""
    _ship(engine)
    bad_payload = {"payload": {"order_id": "x", "quantity": 0}}
    later_errors = [{"payload": _order(5), "options": {"delay": "soon"}},
                    {"payload": _order(5), "surprise": 1}, "not an item"]
    for later in later_errors:
        items = [{"payload": _order(i)} for i in range(150)]
        items[3], items[100] = bad_payload, later  # type: ignore[call-overload]
        r = client.post(f"{API}/tasks/ship/batch", json={"items": items})
        assert r.status_code == 400, later
        assert "quantity" in r.json()["error"]["message"], later
        items[3] = {"payload": _order(3)}
        r = client.post(f"{API}/tasks/ship/batch", json={"items": items})
        assert r.status_code == 400
        assert "quantity" not in r.json()["error"]["message"], later
    options_first = [{"payload": _order(0)},
                     {"payload": {"quantity": 0}, "options": {"delay": "soon"}}]
    r = client.post(f"{API}/tasks/ship/batch", json={"items": options_first})
    assert "quantity" in r.json()["error"]["message"]  # an item's payload before its options
    assert _runs(client) == []
