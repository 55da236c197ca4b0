"""Property-based checks of the whole HTTP API from its OpenAPI document: whatever the
generated input, the server answers without a 5xx, on SQLite and on PostgreSQL.

Cases are generated from the document and sent to an app over the parametrized
``store_url``, so every endpoint is swept once per store (few examples each, so it stays fast;
``OUTLAST_SCHEMATHESIS_EXAMPLES`` raises it). The database holds a task, a delayed run, a
token and a schedule, so generated ids sometimes meet rows and not only 404s.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from outlast.core.definitions import TaskDefinition
from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun
from outlast.server.app import create_app
from outlast.store import open_store

KEY = "ol_dev_schemathesis-0123456789"
#: never ends by design (a tag subscription stays open), so it cannot be called blindly
ENDLESS = {"/api/v1/runs/subscribe"}
EXAMPLES = int(os.environ.get("OUTLAST_SCHEMATHESIS_EXAMPLES", "12"))


def _seed(engine: Engine) -> None:
    engine.register_tasks("dev", [TaskDefinition(id="hello", queue="hello")])
    now = engine.clock.now()
    engine.trigger("dev", NewRun("hello", "{}", parse_options({"delay": "1h"}, now)))
    engine.durable.new_token("dev", 3600.0, ["t"], None)
    engine.schedules.create("dev", task="hello", cron_text="0 * * * *", timezone="UTC",
                            external_id=None, deduplication_key=None)


def _spec_app() -> Any:
    """An app over a throw-away SQLite database: only its OpenAPI document is used, to
    generate the cases (schemathesis needs it when the module loads)."""
    folder = Path(tempfile.mkdtemp(prefix="outlast-schemathesis-"))
    engine = Engine(open_store(f"sqlite:///{folder / 'api.db'}"))
    engine.store.migrate()
    return create_app(engine, dev_api_key=KEY, scheduler=False)


schema = schemathesis.openapi.from_asgi("/api/openapi.json", _spec_app())


@pytest.fixture
def api_app(store_url: str) -> Iterator[Any]:
    """The app the cases are sent to: over a fresh database of the parametrized store."""
    store = open_store(store_url)
    engine = Engine(store)
    _seed(engine)
    yield create_app(engine, dev_api_key=KEY, scheduler=False)
    store.close()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_server_fail(case: Any, api_app: Any) -> None:
    if case.path in ENDLESS:
        pytest.skip("an endless stream")
    response = case.call(headers={"Authorization": f"Bearer {KEY}"}, app=api_app)
    assert response.status_code < 500, (case.method, case.formatted_path,
                                        response.status_code, response.text[:500])
