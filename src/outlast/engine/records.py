"""Rows from the store turned into the public shapes (``Run``, events, logs)."""

from __future__ import annotations

from typing import Any

from outlast.engine.blobs import ref_of
from outlast.engine.numbers import numbers_fields, run_numbers
from outlast.engine.statuses import is_final
from outlast.inputs import shown_time
from outlast.jsonutil import loads
from outlast.store.protocol import Row


def run_record(row: Row, waiting_for: str | None = None, *, now: float | None = None,
               attempts: list[dict[str, Any]] | None = None,
               events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The JSON shape of a run, as the HTTP API and the clients see it. ``waiting_for``:
    who a queued run waits for (``versions.waiting_for``; read when one run is asked for,
    not for lists). Its attempts, duration and cost are ``numbers.run_numbers``: exact
    with the run's ``attempts`` and status ``events`` (which also give its waiting and
    queued time), close from the row alone; ``now`` counts the running attempt in."""
    record = _row_record(row, waiting_for)
    record.update(numbers_fields(run_numbers(row, attempts, events, now)))
    return record


def _row_record(row: Row, waiting_for: str | None) -> dict[str, Any]:
    started, finished = row.get("started_at"), row.get("finished_at")
    return {
        "id": row["id"],
        "status": row["status"],
        "task": row["task_id"],
        "queue": row["queue"],
        **_value("payload", row["id"], row["payload"]),
        **_value("output", row["id"], row.get("output")),
        "error": loads(row.get("error")),
        "attempts": row["attempt_count"],
        "max_attempts": row["max_attempts"],
        "tags": loads(row["tags"]),
        "metadata": loads(row["metadata"]),
        "priority": row["priority"],
        "concurrency_key": row.get("concurrency_key"),
        "machine": row["machine"],
        "idempotency_key": row.get("idempotency_key"),
        "parent_id": row.get("parent_id"),
        "root_id": row.get("root_id"),
        "batch_id": row.get("batch_id"),
        "replayed_from": row.get("replayed_from"),
        "created_at": row["created_at"],
        "available_at": shown_time(row["available_at"]),
        "started_at": shown_time(started),
        "finished_at": shown_time(finished),
        "duration": round(row["execution_seconds"], 6),
        "cost": row["cost"],
        "is_final": is_final(row["status"]),
        "environment": row["environment"],
        "version": row.get("version"),
        "parked": loads(row.get("parked")),
        "waiting_for": waiting_for,
    }


def _value(name: str, run_id: str, text: str | None) -> dict[str, Any]:
    """A payload or output inline; one kept in the blob store as its size and the URL that
    streams it (``GET /api/v1/runs/{id}/payload``): a run's JSON stays small."""
    ref = ref_of(text)
    if ref is None:
        return {name: loads(text), f"{name}_url": None, f"{name}_size": None}
    return {name: None, f"{name}_url": f"/api/v1/runs/{run_id}/{name}",
            f"{name}_size": ref.get("size")}


def event_record(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "run_id": row["run_id"],
        "at": row["at"],
        "kind": row["kind"],
        "status": row["status"],
        "attempt": row["attempt"],
        "data": loads(row["data"]),
    }


def log_record(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "attempt": row["attempt"],
        "at": row["at"],
        "level": row["level"],
        "message": row["message"],
        "attributes": loads(row["attributes"]),
    }


def attempt_record(row: Row) -> dict[str, Any]:
    return {
        "number": row["number"],
        "status": row["status"],
        "worker_id": row["worker_id"],
        "machine": row["machine"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "error": loads(row["error"]),
    }
