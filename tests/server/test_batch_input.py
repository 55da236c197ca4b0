"""A batch's input refused whole, on both transports: what a caller misspells is named, not
dropped, and metadata is held to a run's own limit from the trigger on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

import outlast
from outlast.engine import Engine
from outlast.errors import PayloadTooLargeError, ValidationError

API = "/api/v1"
BIG_METADATA = {"big": "x" * 300_000}  # over 256 KB


def _runs(engine: Engine) -> int:
    return len(engine.list_runs("dev", limit=1000)[0])


@pytest.fixture
def db_client(store_url: str, tasks: tuple[str, ...]) -> Iterator[outlast.Client]:
    with outlast.Client(database_url=store_url, environment="dev") as c:
        yield c


@pytest.mark.parametrize("item", [
    {"payload": 1, "option": {"delay": "1h"}},
    {"payload": 1, "options": {}, "tags": ["a"]},
])
def test_a_batch_item_with_a_key_it_does_not_know_is_refused(
        db_client: outlast.Client, engine: Engine, item: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="unknown batch item field"):
        db_client.tasks.batch_trigger("hello", [{"payload": 0}, item])
    with pytest.raises(ValidationError, match="unknown batch item field"):
        db_client.batch.trigger([{"task": "hello", "payload": 0}, {"task": "hello", **item}])
    assert _runs(engine) == 0


@pytest.mark.parametrize("options", [[1], "1h", 5, [("delay", "1h")], []])
def test_batch_options_that_are_not_a_mapping_are_a_validation_error(
        db_client: outlast.Client, engine: Engine, options: Any) -> None:
    with pytest.raises(ValidationError, match="options: expected a mapping"):
        db_client.tasks.batch_trigger("hello", [{"payload": 1, "options": options}])
    assert _runs(engine) == 0


def test_metadata_over_a_runs_limit_is_refused_when_triggered(
        db_client: outlast.Client, client: TestClient, engine: Engine) -> None:
    """A run triggered with it would hold metadata that its first change is refused for."""
    with pytest.raises(PayloadTooLargeError, match="256 KB"):
        db_client.tasks.trigger("hello", 1, metadata=BIG_METADATA)
    with pytest.raises(PayloadTooLargeError):
        db_client.tasks.batch_trigger("hello", [{"payload": 1},
                                                {"payload": 2,
                                                 "options": {"metadata": BIG_METADATA}}])
    r = client.post(f"{API}/tasks/hello/trigger",
                    json={"payload": 1, "options": {"metadata": BIG_METADATA}})
    assert (r.status_code, r.json()["error"]["code"]) == (413, "payload_too_large")
    assert _runs(engine) == 0
    kept = db_client.tasks.trigger("hello", 1, metadata={"big": "x" * 200_000})
    assert db_client.runs.update_metadata(kept.id, {"a": 1})["a"] == 1


@pytest.mark.parametrize("path", ["/tasks/hello/batch", "/batch"])
def test_a_batch_body_with_a_field_besides_items_is_refused(
        client: TestClient, engine: Engine, path: str) -> None:
    item = {"payload": 1} if path != "/batch" else {"task": "hello", "payload": 1}
    r = client.post(f"{API}{path}", json={"items": [item], "option": {"delay": "1h"}})
    assert r.status_code == 400
    assert "unknown field(s): option" in r.json()["error"]["message"]
    assert client.post(f"{API}{path}", json={"items": [item]}).status_code == 201
    assert _runs(engine) == 1


def test_a_batch_error_names_its_item(db_client: outlast.Client, client: TestClient,
                                      engine: Engine) -> None:
    """Which of up to a thousand items to mend: in the message and as ``details.item``."""
    plain = [{"payload": n} for n in range(10)]
    with pytest.raises(ValidationError, match=r"^item 3: unknown batch item field") as found:
        db_client.tasks.batch_trigger("hello", [*plain[:3], {"payload": 3, "opts": {}}])
    assert found.value.details["item"] == 3
    with pytest.raises(ValidationError, match=r"^item 5: ") as found:  # checked as written
        db_client.tasks.batch_trigger("hello", [*plain[:5], {"payload": "\ud800"}, *plain])
    assert found.value.details["item"] == 5
    mixed = [{"payload": n, "options": {"priority": n}} for n in range(6)]
    with pytest.raises(ValidationError, match=r"^item 4: "):
        db_client.tasks.batch_trigger("hello", [*mixed[:4], {"payload": "\udfff"}])
    r = client.post(f"{API}/tasks/hello/batch",
                    json={"items": [{"payload": 0}, {"payload": 1},
                                    {"payload": 2, "options": {"delay": "soon"}}]})
    assert (r.status_code, r.json()["error"]["details"]["item"]) == (400, 2)
    assert r.json()["error"]["message"].startswith("item 2: ")
    r = client.post(f"{API}/batch", json={"items": [{"task": "hello", "payload": 0},
                                                    {"task": "nope", "payload": 1}]})
    assert (r.status_code, r.json()["error"]["details"]["item"]) == (404, 1)
    assert _runs(engine) == 0
