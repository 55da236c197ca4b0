"""``GET /api/v1/runs`` and ``client.runs.list`` with the runs list's filters, sorts and
search, on both stores: each narrows as documented, pages follow the cursor, and a bad
value is a 400 that names it (never a 500)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

import outlast
from outlast.clock import FakeClock
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun

API = "/api/v1"


def new_run(engine: Engine, task: str, payload: str = "{}", **options: Any) -> str:
    return str(engine.trigger("dev", NewRun(task, payload, TriggerOptions(**options))).row["id"])


@pytest.fixture
def runs(engine: Engine, tasks: tuple[str, ...], clock: FakeClock) -> dict[str, str]:
    made = {"a": new_run(engine, "hello", '{"city": "Lisbon"}', tags=["plan:pro"],
                         idempotency_key="cart-1")}
    clock.advance(10)
    made["b"] = new_run(engine, "other", '{"city": "Oslo"}', idempotency_key="cart-2")
    clock.advance(10)
    made["c"] = new_run(engine, "other", '{"city": "Lima"}', tags=["plan:pro"])
    engine.cancel("dev", made["c"])
    return made


def newest_first(*run_ids: str) -> list[str]:
    """Ids sort by creation time to the millisecond: runs made within one compare by their
    random tail, so the expected order is the ids' own."""
    return sorted(run_ids, reverse=True)


def listed(client: TestClient, **params: Any) -> list[str]:
    r = client.get(f"{API}/runs", params=params)
    assert r.status_code == 200, r.text
    return [run["id"] for run in r.json()["data"]]


def test_filters_sorts_and_search_over_http(client: TestClient, runs: dict[str, str]) -> None:
    assert listed(client, queue="other") == newest_first(runs["c"], runs["b"])
    assert listed(client, queue="other", status="QUEUED") == [runs["b"]]
    assert listed(client, status="QUEUED,CANCELED", task="other") == newest_first(runs["c"],
                                                                                runs["b"])
    assert listed(client, search=runs["b"][:-3]) == [runs["b"]]
    assert listed(client, search="cart-") == newest_first(runs["b"], runs["a"])
    assert listed(client, search="plan:pro") == newest_first(runs["c"], runs["a"])
    assert listed(client, search="lisbon") == [runs["a"]]
    assert listed(client, search="li") == newest_first(runs["c"], runs["a"])  # Lima, Lisbon
    assert listed(client, sort="finished") == [runs["c"]]
    assert listed(client, sort="started") == []  # nothing started yet
    assert listed(client, search="plan:pro", status="CANCELED") == [runs["c"]]


def test_pages_follow_the_cursor(client: TestClient, runs: dict[str, str]) -> None:
    seen, cursor = [], None
    while True:
        params = {"limit": 1, "search": "c"} | ({"cursor": cursor} if cursor else {})
        body = client.get(f"{API}/runs", params=params).json()
        seen += [r["id"] for r in body["data"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    # "c": the keys cart-1 and cart-2 start with it; Lima, Lisbon and Oslo have a "c"
    assert seen == newest_first(runs["c"], runs["b"], runs["a"])


@pytest.mark.parametrize(("params", "word"), [
    ({"status": "RUNNING"}, "unknown status"),
    ({"sort": "duration"}, "sort"),
    ({"created_after": "yesterday"}, "created_after"),
    ({"sort": "finished", "cursor": "not-a-cursor"}, "cursor"),
    ({"search": "x" * 300}, "search"),
    ({"limit": "0"}, "limit"),
])
def test_bad_filter_values_are_400s_that_say_which(
    client: TestClient, runs: dict[str, str], params: dict[str, str], word: str
) -> None:
    r = client.get(f"{API}/runs", params=params)
    assert r.status_code == 400, r.text
    assert word in r.text


def test_the_client_passes_the_new_filters(live_server: Any, engine: Engine,
                                           runs: dict[str, str]) -> None:
    with outlast.Client(url=live_server.url, api_key=engine.create_api_key("dev")) as client:
        found = client.runs.list(queue="other", search="o", sort="created")
        assert [r.id for r in found] == [runs["b"]]  # Oslo, on the queue "other"
        page, cursor = client.runs.page(sort="finished", limit=1)
        assert [r.id for r in page] == [runs["c"]] and cursor is None


def test_openapi_documents_queue_search_and_sort(client: TestClient) -> None:
    operation = client.get("/api/openapi.json").json()["paths"][f"{API}/runs"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"queue", "search", "sort"} <= names
