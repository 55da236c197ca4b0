"""``outlast init`` and the example tasks it writes (which must run offline)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import httpx
import pytest

from outlast import AbortTaskRunError
from outlast.config import load_config
from outlast.sdk.registry import Registry, default_registry


def test_init_writes_a_working_project(project: Path, outlast) -> None:
    result = outlast("init")
    assert result.exit_code == 0, result.output
    assert "created outlast.toml" in result.stdout
    assert "created tasks/example.py" in result.stdout
    assert "outlast dev" in result.stderr
    config = load_config()
    assert config.project == "project"
    assert config.dirs == ("tasks",)
    assert config.task_dirs()[0].joinpath("example.py").is_file()


def test_init_takes_a_project_name(project: Path, outlast) -> None:
    assert outlast("init", "--project", 'say "hi"').exit_code == 0
    assert load_config().project == 'say "hi"'


def test_init_keeps_existing_files_and_writes_the_rest(project: Path, outlast) -> None:
    (project / "outlast.toml").write_text("# mine\n")
    result = outlast("init")
    assert result.exit_code == 0
    assert "kept outlast.toml" in result.stdout
    assert (project / "outlast.toml").read_text() == "# mine\n"
    assert (project / "tasks" / "example.py").exists()
    assert outlast("init").exit_code == 0  # running it again is safe


def test_init_force_overwrites(project: Path, outlast) -> None:
    (project / "outlast.toml").write_text("# mine\n")
    result = outlast("init", "--force")
    assert result.exit_code == 0
    assert "project = " in (project / "outlast.toml").read_text()


# -- the example tasks ------------------------------------------------------------------


@pytest.fixture
def example(project: Path, outlast) -> Iterator[ModuleType]:
    """``tasks/example.py`` as ``init`` wrote it, imported like a worker would."""
    assert outlast("init").exit_code == 0
    saved = default_registry._tasks.copy()
    sys.path.insert(0, str(project))
    try:
        yield importlib.import_module("tasks.example")
    finally:
        sys.path.remove(str(project))
        for name in [m for m in sys.modules if m == "tasks" or m.startswith("tasks.")]:
            del sys.modules[name]
        default_registry._tasks = saved


def ctx(attempt: int = 1) -> Any:
    return SimpleNamespace(attempt=SimpleNamespace(number=attempt))


def test_example_defines_the_documented_tasks(example: ModuleType) -> None:
    registry = Registry()
    for value in vars(example).values():
        if hasattr(value, "definition") and hasattr(value, "qualname"):
            registry.add(value)
    assert [t.id for t in registry.all()] == [
        "approve-refund", "fetch-url", "hello-world", "import-orders-csv",
        "summarize-document", "watchlist-snapshot",
    ]
    assert registry.get("fetch-url").retry.max_attempts == 4


def test_hello_world(example: ModuleType) -> None:
    assert example.hello_world({"name": "Ada"}) == {"message": "Hello, Ada!"}
    assert example.hello_world(None) == {"message": "Hello, world!"}


def test_llm_pipeline_is_deterministic(example: ModuleType) -> None:
    first = example.summarize_document(None, ctx())
    assert first == example.summarize_document(None, ctx())
    assert first["topic"] == "billing" and first["sentiment"] == "negative"
    assert first["summary"].startswith("Our invoices for March")
    with pytest.raises(AbortTaskRunError):
        example.summarize_document({"text": "  "}, ctx())


def test_csv_batch_reports_bad_rows(example: ModuleType) -> None:
    result = example.import_orders_csv(None)
    assert result["imported"] == 3
    assert [r["line"] for r in result["rejected"]] == [4, 5]
    assert result["total_quantity"] == 13
    assert result["revenue"] == "301.48"
    with pytest.raises(AbortTaskRunError, match="unit_price"):
        example.import_orders_csv({"csv": "order_id,customer,quantity\nA,b,1\n"})


def _answering(status: int) -> Any:
    def fake_get(url: str, **kwargs: Any) -> httpx.Response:
        return httpx.Response(status, content=b"ok", request=httpx.Request("GET", url))

    return fake_get


def test_http_fetch_aborts_on_4xx_and_retries_5xx(example: ModuleType,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert example.DEFAULT_URL == "http://127.0.0.1:8030/healthz"
    monkeypatch.setattr(example.httpx, "get", _answering(200))
    assert example.fetch_url(None, ctx(2))["attempt"] == 2
    monkeypatch.setattr(example.httpx, "get", _answering(404))
    with pytest.raises(AbortTaskRunError, match="404"):
        example.fetch_url({"url": "http://127.0.0.1:1/x"}, ctx())
    monkeypatch.setattr(example.httpx, "get", _answering(503))
    with pytest.raises(httpx.HTTPStatusError):
        example.fetch_url(None, ctx())


def test_watchlist_snapshot(example: ModuleType) -> None:
    result = example.watchlist_snapshot(None)
    assert result == example.watchlist_snapshot(None)
    assert {a["symbol"] for a in result["assets"]} >= {"005930.KS", "BTC-USD"}
    assert result["alerts"] == [a["symbol"] for a in result["assets"] if a["alert"]]
    assert result["sentiment"] in {"bullish", "bearish", "neutral"}
    one = example.watchlist_snapshot({"watchlist": [{"symbol": "X"}], "threshold_pct": 0})
    assert one["best"] == one["worst"] == "X" and one["alerts"] == ["X"]


def test_approval_waits_for_a_person(example: ModuleType) -> None:
    from outlast.sdk.registry import Registry as Fresh
    from outlast.testing import TestRuns

    registry = Fresh()
    registry.add(example.approve_refund)
    with TestRuns(registry) as env:
        run = env.run(example.approve_refund, {"order_id": "B-7", "amount": "12.00"})
        assert run.status == "WAITING"
        [token] = env.tokens(run.id)
        assert "order:B-7" in token["tags"]
        env.complete_token(token["id"], {"approved": True})
        run = env.run_until_final(run.id)
    assert run.output == {"order_id": "B-7", "refunded": True, "amount": "12.00"}
