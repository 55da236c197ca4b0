"""Finding runs by their tree and by idempotency key: ``runs.list(parent_id=, root_id=,
idempotency_key=)``, ``GET /runs`` with the same query parameters (documented in the
OpenAPI document), on both stores."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun

API = "/api/v1"


def new_run(engine: Engine, parent: str | None = None, root: str | None = None,
            **options: Any) -> str:
    request = NewRun("hello", "{}", TriggerOptions(**options), parent_id=parent, root_id=root)
    return str(engine.trigger("dev", request).row["id"])


def tree(engine: Engine) -> tuple[str, str, str]:
    """root → child → grandchild, plus an unrelated run."""
    root = new_run(engine, idempotency_key="order-9")
    child = new_run(engine, parent=root)
    grandchild = new_run(engine, parent=child, root=root)
    new_run(engine, idempotency_key="order-10")
    return root, child, grandchild


def test_engine_lists_a_tree(engine: Engine, tasks: tuple[str, ...]) -> None:
    root, child, grandchild = tree(engine)

    def ids(**filters: Any) -> set[str]:
        return {r["id"] for r in engine.list_runs("dev", **filters)[0]}

    assert ids(root_id=root) == {child, grandchild}  # the root itself has no root
    assert ids(parent_id=root) == {child}
    assert ids(parent_id=child, root_id=root) == {grandchild}
    assert ids(root_id=child) == set()
    assert ids(idempotency_key="order-9") == {root}
    assert ids(idempotency_key="other") == set()


def test_http_lists_a_tree(client: TestClient, engine: Engine) -> None:
    root, child, grandchild = tree(engine)

    def ids(**params: Any) -> set[str]:
        r = client.get(f"{API}/runs", params=params)
        assert r.status_code == 200, r.text
        return {run["id"] for run in r.json()["data"]}

    assert ids(root_id=root) == {grandchild, child}
    assert ids(parent_id=child) == {grandchild}
    assert ids(idempotency_key="order-9") == {root}


def test_openapi_documents_the_list_filters(client: TestClient) -> None:
    operation = client.get("/api/openapi.json").json()["paths"][f"{API}/runs"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert {"status", "task", "tag", "created_after", "created_before", "parent_id",
            "root_id", "idempotency_key", "version", "fingerprint", "limit",
            "cursor"} == set(params)
    assert all(p["in"] == "query" and not p["required"] for p in params.values())
    assert params["limit"]["schema"] == {"type": "integer"}
