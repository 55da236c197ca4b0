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
