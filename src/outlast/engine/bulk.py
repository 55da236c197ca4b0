"""Bulk actions: cancel or replay every run a filter lists (or a list of ids), as a record
that shows its progress and counts.

A filter is the keywords of ``Engine.list_runs`` (``status``, ``task``, ``tag``, …): it
is checked by listing one page with it, so "the runs this filter lists" and "the runs this
action touches" are one set, checked by one function. Creating an action writes a PENDING
record and nothing else; whoever holds upkeep moves it on (``upkeep/bulk.py`` calls
``bulk_work.step``): first it copies the runs the filter lists into the action's items
(the snapshot), then it acts on them in bounded batches, recording progress after each.
A run already final when a cancel reaches it is counted as skipped, not failed.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from outlast import inputs
from outlast.errors import NotFoundError, ValidationError
from outlast.ids import new_id
from outlast.jsonutil import dumps, loads
from outlast.store.protocol import Row

if TYPE_CHECKING:
    from outlast.engine import Engine

ACTIONS = ("cancel", "replay")
ACTIVE = ("PENDING", "RUNNING")
#: run ids one action given by id holds at most
MAX_IDS = 10_000
#: runs read per page by ``count``
COUNT_PAGE = 1000


def filter_keywords() -> frozenset[str]:
    """The filters ``Engine.list_runs`` takes, without its paging."""
    from outlast.engine import Engine

    names = inspect.signature(Engine.list_runs).parameters
    return frozenset(names) - {"self", "env", "limit", "cursor"}


def bulk_record(row: Row) -> dict[str, Any]:
    """An action as the API answers it."""
    return {
        "id": row["id"], "action": row["action"], "status": row["status"],
        "phase": row["phase"],
        "filter": loads(row["filter"]) if row["filter"] is not None else None,
        "payload": loads(row["payload"]) if row["payload"] is not None else None,
        "total": row["total"], "processed": row["processed"], "succeeded": row["succeeded"],
        "skipped": row["skipped"], "failed": row["failed"], "errors": loads(row["errors"]),
        "message": row["message"], "created_at": row["created_at"],
        "started_at": row["started_at"], "finished_at": row["finished_at"],
        "updated_at": row["updated_at"], "is_final": row["status"] not in ACTIVE,
    }


class BulkActions:
    """``engine.bulk``: create, read, list and abort bulk actions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def check_filter(self, env: str, wanted: dict[str, Any]) -> dict[str, Any]:
        """``wanted`` without empty values, once ``list_runs`` accepts it (else a 400)."""
        unknown = set(wanted) - filter_keywords()
        if unknown:
            raise ValidationError(
                f"unknown filter(s): {', '.join(sorted(unknown))} (expected "
                f"{', '.join(sorted(filter_keywords()))})")
        kept = {k: v for k, v in wanted.items() if v not in (None, "", [])}
        self.engine.list_runs(env, **kept, limit=1)
        return kept

    def count(self, env: str, wanted: dict[str, Any], at_most: int = 100_000) -> int:
        """How many runs the filter lists (``at_most`` stops the count there)."""
        wanted = self.check_filter(env, wanted)
        found, cursor = 0, None
        while found < at_most:
            page = min(COUNT_PAGE, at_most - found)
            runs, cursor = self.engine.list_runs(env, **wanted, limit=page, cursor=cursor)
            found += len(runs)
            if cursor is None:
                break
        return min(found, at_most)

    def create(self, env: str, action: str, *, wanted: dict[str, Any] | None = None,
               run_ids: list[str] | None = None,
               payload_json: str | None = None) -> dict[str, Any]:
        """A PENDING action on the runs ``wanted`` lists, or on ``run_ids``."""
        if action not in ACTIONS:
            raise ValidationError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
        if (wanted is None) == (run_ids is None):
            raise ValidationError("give either a filter or run_ids, not both or neither")
        if payload_json is not None and action != "replay":
            raise ValidationError("only a replay takes a payload")
        ids = _checked_ids(run_ids) if run_ids is not None else []
        checked = self.check_filter(env, wanted) if wanted is not None else None
        action_id, now = new_id("bulk"), self.engine.clock.now()
        with self.engine.store.transaction() as tx:
            tx.run("insert_bulk_action", id=action_id, environment=env, action=action,
                   filter=dumps(checked) if checked is not None else None,
                   payload=payload_json, phase="snapshot" if checked is not None else "process",
                   total=len(ids), now=now)
            tx.many("insert_bulk_item", [{"bulk_action_id": action_id, "run_id": i}
                                         for i in ids])
        return self.get(env, action_id)

    def get(self, env: str, action_id: str) -> dict[str, Any]:
        with self.engine.store.transaction(write=False) as tx:
            row = tx.one("get_bulk_action", id=action_id, environment=env)
        if row is None:
            raise NotFoundError(f"no bulk action {action_id!r} in environment {env!r}",
                                bulk_action_id=action_id)
        return bulk_record(row)

    def list(self, env: str, limit: int = 50,
             cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first; returns (actions, cursor for the next page or None)."""
        with self.engine.store.transaction(write=False) as tx:
            rows = tx.all("list_bulk_actions", environment=env, cursor=cursor, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return [bulk_record(r) for r in rows], (rows[-1]["id"] if more else None)

    def abort(self, env: str, action_id: str) -> dict[str, Any]:
        """Stop an unfinished action after the batch in flight (that batch's runs stay
        acted on); a finished one is answered as it is."""
        self.get(env, action_id)
        with self.engine.store.transaction() as tx:
            if tx.run("end_bulk_action", id=action_id, status="ABORTED",
                      message="aborted", now=self.engine.clock.now()):
                tx.run("delete_bulk_items", bulk_action_id=action_id)
        return self.get(env, action_id)


def _checked_ids(run_ids: list[str]) -> list[str]:
    if not isinstance(run_ids, list) or not run_ids:
        raise ValidationError("run_ids must be a non-empty list of run ids")
    if len(run_ids) > MAX_IDS:
        raise ValidationError(f"run_ids holds at most {MAX_IDS} ids, got {len(run_ids)}")
    for run_id in run_ids:
        if not isinstance(run_id, str) or not run_id:
            raise ValidationError(f"run_ids: expected run id strings, got {run_id!r}")
        inputs.text(run_id, "run_ids")
    return sorted(set(run_ids))
