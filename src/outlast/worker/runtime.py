"""The engine side of durable operations: what a running attempt's ``Runtime`` calls.

The supervisor answers its children's calls with ``dispatch``; ``outlast.testing`` calls
it directly in process. Every operation is fenced by the attempt's lease.

An operation asked again after a database fault may have committed the first time (the
connection dropped after ``COMMIT`` was sent, before its answer came back): ``committed``
finds its journal entry and answers from it, so a step is not recorded twice and child
runs are not triggered twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from outlast.core.options import parse_options
from outlast.engine import Engine
from outlast.engine.durable import Op
from outlast.engine.triggering import NewRun
from outlast.errors import ValidationError
from outlast.jsonutil import dumps


def dispatch(engine: Engine, env: str, op: str, args: dict[str, Any]) -> Any:
    run_op = _RUN_OPS.get(op)
    if run_op is not None:
        return run_op(engine, env, args)
    ops = engine.durable
    at = Op(args["run_id"], args["lease_id"], int(args["seq"]), args["kind"], args["name"])
    if op == "record":
        return ops.record(at, args.get("result"))
    if op == "sleep":
        until = args["until"] if "until" in args else engine.clock.now() + args["seconds"]
        return ops.sleep_until(at, float(until))
    if op == "create_token":
        return ops.create_token(at, args.get("timeout"), args.get("tags") or [],
                                args.get("idempotency_key"))
    if op == "wait_token":
        return ops.wait_for_token(at, args["token_id"])
    if op == "trigger":
        requests = [_new_run(item, engine.clock.now()) for item in args["items"]]
        return ops.trigger(at, env, requests, wait=bool(args["wait"]), batch=bool(args["batch"]))
    raise ValidationError(f"unknown durable operation {op!r}")


#: operations whose only trace is their journal entry at ``seq`` (written last)
_JOURNALED = frozenset({"record", "sleep", "create_token", "wait_token", "trigger"})


def committed(engine: Engine, op: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """The answer ``op`` gave if an earlier try of it committed; None if none did."""
    if op not in _JOURNALED:
        return None
    for entry in engine.durable.journal(args["run_id"], args["lease_id"]):
        if entry["seq"] == int(args["seq"]):
            if (entry["kind"], entry["name"]) != (args["kind"], args["name"]):
                return None  # not this operation's: let it fail as it would have
            if entry["status"] == "pending":
                return {"done": False}
            return {"done": True, "result": entry["result"]}
    return None


def _related_metadata(engine: Engine, env: str, args: dict[str, Any]) -> dict[str, Any]:
    """``metadata.parent`` / ``metadata.root``: which run was written, and whether."""
    done = engine.metadata.from_attempt(args["run_id"], args["lease_id"],
                                        list(args.get("ops") or []), str(args["target"]))
    return {"run_id": done.run_id, "metadata": done.metadata, "applied": done.applied}


RunOp = Callable[[Engine, str, dict[str, Any]], Any]

#: operations that write to the run (or read it) without a journal sequence number
_RUN_OPS: dict[str, RunOp] = {
    "journal": lambda engine, env, a: engine.durable.journal(a["run_id"], a["lease_id"]),
    "complete_token": lambda engine, env, a: engine.durable.complete_token(
        env, a["token_id"], a.get("output")),
    "metadata": lambda engine, env, a: engine.realtime.update_metadata(
        a["run_id"], a["lease_id"], list(a.get("ops") or [])),
    "related_metadata": _related_metadata,
    "add_tags": lambda engine, env, a: engine.tags.from_attempt(a["run_id"], a["lease_id"],
                                                                a["tags"]),
    "stream_append": lambda engine, env, a: engine.realtime.append_chunks(
        a["run_id"], a["lease_id"], a["key"], list(a["chunks"])),
}


def _new_run(item: dict[str, Any], now: float) -> NewRun:
    return NewRun(item["task"], dumps(item.get("payload")),
                  parse_options(item.get("options") or {}, now))
