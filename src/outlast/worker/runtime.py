"""The engine side of durable operations: what a running attempt's ``Runtime`` calls.

The supervisor answers its children's calls with ``dispatch``; ``outlast.testing`` calls
it directly in process. Every operation is fenced by the attempt's lease.
"""

from __future__ import annotations

from typing import Any

from outlast.engine import Engine
from outlast.engine.durable import Op
from outlast.engine.triggering import NewRun
from outlast.errors import ValidationError
from outlast.jsonutil import dumps
from outlast.sdk.options import parse_options


def dispatch(engine: Engine, env: str, op: str, args: dict[str, Any]) -> Any:
    ops = engine.durable
    if op == "journal":
        return ops.journal(args["run_id"], args["lease_id"])
    if op == "complete_token":
        return ops.complete_token(env, args["token_id"], args.get("output"))
    if op == "metadata":
        return engine.realtime.update_metadata(args["run_id"], args["lease_id"],
                                               list(args.get("ops") or []))
    if op == "stream_append":
        return engine.realtime.append_chunks(args["run_id"], args["lease_id"], args["key"],
                                             list(args["chunks"]))
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


def _new_run(item: dict[str, Any], now: float) -> NewRun:
    return NewRun(item["task"], dumps(item.get("payload")),
                  parse_options(item.get("options") or {}, now))
