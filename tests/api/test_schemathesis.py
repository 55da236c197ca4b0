"""Property-based checks of the whole HTTP API from its OpenAPI document: whatever the
generated input, the server answers without a 5xx (an app on SQLite, few examples each,
so it stays fast)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from outlast.engine import Engine
from outlast.engine.definitions import TaskDefinition
from outlast.server.app import create_app
from outlast.store import open_store

KEY = "ol_dev_schemathesis-0123456789"
#: never ends by design (a tag subscription stays open), so it cannot be called blindly
ENDLESS = {"/api/v1/runs/subscribe"}
EXAMPLES = int(os.environ.get("OUTLAST_SCHEMATHESIS_EXAMPLES", "12"))


def api_schema() -> Any:
    """The schema of an app over a fresh SQLite database (built when the module loads:
    schemathesis needs it to generate the test cases)."""
    folder = Path(tempfile.mkdtemp(prefix="outlast-schemathesis-"))
    store = open_store(f"sqlite:///{folder / 'api.db'}")
    store.migrate()
    engine = Engine(store)
    engine.register_tasks("dev", [TaskDefinition(id="hello", queue="hello")])
    app = create_app(engine, dev_api_key=KEY, scheduler=False)
    return schemathesis.openapi.from_asgi("/api/openapi.json", app)


schema = api_schema()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_server_fail(case: Any) -> None:
    if case.path in ENDLESS:
        pytest.skip("an endless stream")
    response = case.call(headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code < 500, (case.method, case.formatted_path,
                                        response.status_code, response.text[:500])
