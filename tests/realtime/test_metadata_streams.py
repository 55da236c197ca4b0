"""Metadata and streams written by running tasks, on both stores."""

from __future__ import annotations

from typing import Any

import pytest

from outlast import DurableUsageError, PayloadTooLargeError, metadata, streams, task
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun
from outlast.engine.metadata import apply_ops
from outlast.errors import InvalidTransitionError, ValidationError
from outlast.sdk.registry import Registry

from .support import execute_one, register


def trigger(engine: Engine, task_id: str, payload: Any = None, **options: Any) -> str:
    opts = TriggerOptions(**options)
    return str(engine.trigger("dev", NewRun(task_id, "null" if payload is None else
                                            str(payload), opts)).row["id"])


def test_metadata_ops_are_pure_and_checked() -> None:
    start = {"n": 1, "log": "a"}
    out = apply_ops(start, [{"op": "increment", "key": "n", "value": 2},
                            {"op": "append", "key": "log", "value": "b"},
                            {"op": "append", "key": "new", "value": 1},
                            {"op": "set", "key": "x", "value": None},
                            {"op": "delete", "key": "missing"}])
    assert out == {"n": 3, "log": ["a", "b"], "new": [1], "x": None}
    assert start == {"n": 1, "log": "a"}
    with pytest.raises(ValidationError, match="not a number"):
        apply_ops({"s": "text"}, [{"op": "increment", "key": "s", "value": 1}])
    with pytest.raises(ValidationError, match="bad operation"):
        apply_ops({}, [{"op": "explode", "key": "s"}])


def test_outside_a_run_metadata_and_streams_say_so() -> None:
    with pytest.raises(DurableUsageError, match="inside a running task"):
        metadata.set("k", 1)
    with pytest.raises(DurableUsageError, match="inside a running task"):
        metadata.current()
    with pytest.raises(DurableUsageError, match="inside a running task"):
        streams.append("llm", "x")


def test_metadata_updates_are_durable_evented_and_notified(engine: Engine) -> None:
    reg = Registry()
    seen: dict[str, Any] = {}

    @task(id="progress", registry=reg)
    def progress(payload: Any) -> Any:
        metadata.set("progress", 0.5)
        metadata.increment("done", 2)
        metadata.increment("done")
        metadata.append("log", "first")
        metadata.append("log", "second")
        metadata.decrement("left", 1)
        seen["get"] = metadata.get("progress")
        seen["current"] = metadata.current()
        return "ok"

    register(engine, reg)
    notes: list[tuple[str, str]] = []
    engine.store.add_local_listener(lambda channel, payload: notes.append((channel, payload)))
    run_id = trigger(engine, "progress", metadata={"left": 3})
    execute_one(engine, reg)
    run = engine.retrieve("dev", run_id)
    expected = {"left": 2, "progress": 0.5, "done": 3, "log": ["first", "second"]}
    assert run["status"] == "COMPLETED"
    assert run["metadata"] == expected
    assert seen == {"get": 0.5, "current": expected}
    kinds = [e["kind"] for e in engine.events(run_id)]
    assert kinds.count("metadata") == 6
    assert ("outlast_changed", run_id) in notes


def test_metadata_over_256_kb_fails_clearly_and_keeps_the_old_value(engine: Engine) -> None:
    reg = Registry()
    errors: list[str] = []

    @task(id="big", registry=reg)
    def big(payload: Any) -> Any:
        metadata.set("small", 1)
        try:
            metadata.set("huge", "x" * 300_000)
        except PayloadTooLargeError as exc:
            errors.append(str(exc))
        return metadata.current()

    register(engine, reg)
    run_id = trigger(engine, "big")
    execute_one(engine, reg)
    assert errors and "256 KB" in errors[0]
    assert engine.retrieve("dev", run_id)["metadata"] == {"small": 1}


def test_a_stale_lease_cannot_write_metadata_or_chunks(engine: Engine) -> None:
    reg = Registry()

    @task(id="noop", registry=reg)
    def noop(payload: Any) -> None:
        return None

    register(engine, reg)
    run_id = trigger(engine, "noop")
    with pytest.raises(InvalidTransitionError):
        engine.realtime.update_metadata(run_id, "lease_stale", [{"op": "set", "key": "a",
                                                                "value": 1}])
    with pytest.raises(InvalidTransitionError):
        engine.realtime.append_chunks(run_id, "lease_stale", "llm", ["x"])


def test_streams_keep_order_per_key_and_end_when_the_run_is_final(engine: Engine) -> None:
    reg = Registry()

    @task(id="writer", registry=reg)
    def writer(payload: Any) -> str:
        for i in range(10_000):
            streams.append("numbers", i)
        streams.pipe("words", iter(["a", "b", "c"]))
        streams.append("numbers", "end")
        return "done"

    register(engine, reg)
    run_id = trigger(engine, "writer")
    assert not engine.realtime.chunks("dev", run_id, "numbers", 0).done
    execute_one(engine, reg)
    got: list[Any] = []
    after, done = 0, False
    while not done:
        page = engine.realtime.chunks("dev", run_id, "numbers", after)
        got.extend(text for _, text in page.items)
        after = page.items[-1][0] if page.items else after
        done = page.done
    assert got == [str(i) for i in range(10_000)] + ['"end"']
    words = engine.realtime.chunks("dev", run_id, "words", 0)
    assert [t for _, t in words.items] == ['"a"', '"b"', '"c"'] and words.done
    assert engine.realtime.chunks("dev", run_id, "numbers", 10_001).done


def test_stream_keys_are_checked(engine: Engine) -> None:
    with pytest.raises(ValidationError, match="stream key"):
        engine.realtime.chunks("dev", "run_x", "bad key/with slash", 0)


async def _agen() -> Any:
    for word in ("x", "y"):
        yield word


def test_pipe_async_in_an_async_task(engine: Engine) -> None:
    reg = Registry()

    @task(id="async-writer", registry=reg)
    async def async_writer(payload: Any) -> list[Any]:
        await metadata.set_async("phase", "streaming")
        return await streams.pipe_async("llm", _agen())

    register(engine, reg)
    run_id = trigger(engine, "async-writer")
    execute_one(engine, reg)
    run = engine.retrieve("dev", run_id)
    assert run["output"] == ["x", "y"] and run["metadata"] == {"phase": "streaming"}
    assert [t for _, t in engine.realtime.chunks("dev", run_id, "llm", 0).items] == ['"x"',
                                                                                    '"y"']
