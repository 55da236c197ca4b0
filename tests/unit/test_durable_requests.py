"""Durable requests: one record per operation, one handler per record, and records that
cross the child's pipe unchanged."""

from __future__ import annotations

import ast
import pickle
import typing
from pathlib import Path
from typing import Any

import pytest

from outlast.core import durable_requests as req
from outlast.errors import ValidationError
from outlast.worker import runtime

AT = req.Op("run_1", "lease_1", 3, "step", "charge")

EXAMPLES: list[Any] = [
    req.Record(AT, {"charged": 42}),
    req.SleepFor(AT, 30.0),
    req.SleepUntil(AT, 1_700_000_000.0),
    req.CreateToken(AT, 60.0, ["approval"], "key-1"),
    req.WaitToken(AT, "wp_1"),
    req.Trigger(AT, [req.ChildRun("child", {"n": 1}, {"queue": "q"})], wait=True, batch=True),
    req.Patch(req.Op("run_1", "lease_1", 3, "patch", "send-sms-v2")),
    req.ReadJournal("run_1", "lease_1"),
    req.CompleteToken("wp_1", {"ok": True}),
    req.UpdateMetadata("run_1", "lease_1", [{"op": "set", "key": "k", "value": 1}]),
    req.UpdateRelatedMetadata("run_1", "lease_1", [], "parent"),
    req.AddTags("run_1", "lease_1", ["user:1"]),
    req.AppendStream("run_1", "lease_1", "tokens", ["a", "b"]),
]


def test_every_request_type_has_exactly_one_handler() -> None:
    declared = set(typing.get_args(req.DurableRequest))
    assert set(runtime.HANDLERS) == declared
    assert {type(e) for e in EXAMPLES} == declared


def test_a_second_handler_for_a_type_is_refused() -> None:
    with pytest.raises(TypeError, match="Record already has a handler"):
        runtime.handles(req.Record)(lambda engine, env, request: None)


def test_a_request_of_no_known_type_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="unknown durable operation Op"):
        runtime.dispatch(None, "dev", AT)  # type: ignore[arg-type]


@pytest.mark.parametrize("request_", EXAMPLES, ids=lambda e: type(e).__name__)
def test_a_request_crosses_the_pipe_unchanged(request_: Any) -> None:
    assert pickle.loads(pickle.dumps(request_)) == request_


@pytest.mark.parametrize("request_", EXAMPLES, ids=lambda e: type(e).__name__)
def test_faults_are_counted_for_the_run_that_asks(request_: Any) -> None:
    expected = "" if isinstance(request_, req.CompleteToken) else "run_1"
    assert req.caller(request_) == expected


def test_only_journaled_requests_have_a_place_in_the_journal() -> None:
    journaled = {type(e) for e in EXAMPLES if hasattr(e, "at")}
    assert journaled == set(typing.get_args(req.Journaled))


def test_the_requests_module_imports_nothing_of_outlast() -> None:
    """The SDK and the worker both import it; it must not pull in the engine or server."""
    tree = ast.parse(Path(req.__file__).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"__future__", "dataclasses", "typing"}
