"""Live data of runs: metadata written by a running attempt (its rules live in
``engine/metadata.py``), stream chunks, and the feeds that realtime subscribers read.

Writes from an attempt are fenced by its lease like every durable operation, so a stale
attempt cannot change metadata or add chunks after a newer one took over. Each write
appends a run event (metadata) or notifies ``STREAM_CHANNEL`` (chunks) in its own
transaction, and the realtime server wakes on those notifications.

Feeds answer "what changed after cursor N" and are what both the SSE endpoints and the
in-process client poll: run snapshots keyed by run event ids, and stream chunks keyed by
their sequence number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from outlast.engine import journal
from outlast.engine.records import run_record
from outlast.engine.statuses import is_final
from outlast.errors import RunNotFoundError, ValidationError
from outlast.jsonutil import dumps

if TYPE_CHECKING:
    from outlast.engine import Engine

#: NOTIFY channel: a run wrote stream chunks (payload: the run id).
STREAM_CHANNEL = "outlast_stream"
STREAM_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
#: how many of a tag's most recent runs a new tag subscriber is shown first
TAG_INITIAL = 100


def check_stream_key(key: str) -> str:
    if not isinstance(key, str) or not STREAM_KEY.match(key):
        raise ValidationError(
            f"stream key {key!r}: use 1-128 letters, digits, '_', '-', '.' or ':'")
    return key


@dataclass(frozen=True)
class Chunks:
    """Chunks after a cursor; ``done`` when the run is final and nothing more follows."""

    items: list[tuple[int, str]]
    done: bool


class RealtimeOps:
    """The engine's realtime operations (``engine.realtime``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- writes from a running attempt ---------------------------------------------------

    def update_metadata(self, run_id: str, lease_id: str,
                        ops: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply ``ops`` to the run's metadata; no ops just reads it. Returns the result."""
        return self.engine.metadata.from_attempt(run_id, lease_id, ops).metadata

    def append_chunks(self, run_id: str, lease_id: str, key: str, chunks: list[Any]) -> int:
        """Append JSON chunks to stream ``key`` of the run; returns the last sequence number."""
        check_stream_key(key)
        texts = [dumps(c, f"chunk of stream {key!r}") for c in chunks]
        now = self.engine.clock.now()
        with self.engine.store.transaction() as tx:
            journal.hold_lease(tx, run_id, lease_id)  # locks the run: seqs never collide
            found = tx.one("stream_last_seq", run_id=run_id, key=key)
            last = int(found["seq"] or 0) if found else 0
            tx.many("insert_stream_chunk", [
                {"run_id": run_id, "key": key, "seq": last + i, "chunk": text, "now": now}
                for i, text in enumerate(texts, start=1)])
            if texts:
                tx.notify(STREAM_CHANNEL, run_id)
        return last + len(texts)

    # -- feeds -----------------------------------------------------------------------------

    def run_changes(self, env: str, run_id: str,
                    after: int) -> tuple[dict[str, Any] | None, int, bool]:
        """The run's snapshot if it changed after event ``after``, the new cursor, and
        whether the run is final."""
        with self.engine.store.transaction(write=False) as tx:
            # the event id first: the row read after it is at least that new, so a change
            # committed in between is never stamped with an id the client will skip
            last = int((tx.one("realtime_last_event", run_id=run_id) or {}).get("id") or 0)
            row = tx.one("get_run", id=run_id, environment=env)
        if row is None:
            raise RunNotFoundError(f"no run {run_id!r} in environment {env!r}", run_id=run_id)
        # a run loaded in bulk may have no event row yet: its ``created`` event is the
        # load's, whose id its row holds (migration 0033)
        last = max(last, row.get("created_event") or 0)
        final = is_final(row["status"])
        if last > after:
            return run_record(row), last, final
        return None, after, final

    def trace_mark(self, run_id: str) -> str:
        """Where the run's trace stands (journal, logs, children's events), as a text
        that changes whenever the trace does: steps and log lines append no run event,
        so the run page's live stream compares this as well."""
        with self.engine.store.transaction(write=False) as tx:
            row = tx.one("trace_mark", run_id=run_id) or {}
        return ".".join(str(row.get(k) or 0)
                        for k in ("entries", "pending", "last_log", "children"))

    def newest_event(self) -> int:
        """The newest run event of any environment: where an environment's feed starts."""
        with self.engine.store.transaction(write=False) as tx:
            return int((tx.one("realtime_newest_event") or {}).get("id") or 0)

    def env_changes(self, env: str, after: int) -> int:
        """The newest event of ``env``'s runs after ``after``, or ``after`` if none."""
        with self.engine.store.transaction(write=False) as tx:
            row = tx.one("realtime_env_last_event", environment=env, after=after)
        return int((row or {}).get("id") or after)

    def is_final(self, env: str, run_id: str) -> bool:
        with self.engine.store.transaction(write=False) as tx:
            row = tx.one("get_run", id=run_id, environment=env)
        if row is None:
            raise RunNotFoundError(f"no run {run_id!r} in environment {env!r}", run_id=run_id)
        return is_final(row["status"])

    def tag_changes(self, env: str, tag: str,
                    after: int) -> list[tuple[int, dict[str, Any]]]:
        """(event id, snapshot) of runs tagged ``tag`` that changed after ``after``, oldest
        change first. From zero: the latest state of the tag's most recent runs."""
        with self.engine.store.transaction(write=False) as tx:
            if after <= 0:
                found = tx.all("realtime_tag_latest", environment=env, tag=tag,
                               limit=TAG_INITIAL)
            else:
                found = tx.all("realtime_tag_events", environment=env, tag=tag, after=after,
                               limit=1000)
            latest: dict[str, int] = {}
            for r in found:
                if r["id"] is not None:
                    latest[r["run_id"]] = max(latest.get(r["run_id"], 0), int(r["id"]))
            rows = tx.all("get_runs", ids=list(latest)) if latest else []
        by_id = {r["id"]: r for r in rows}
        # by event id alone: two runs of one bulk load share their ``created`` event's id
        # (0033), and a tie must not go on to compare their records
        return sorted(((event_id, run_record(by_id[run_id]))
                       for run_id, event_id in latest.items() if run_id in by_id),
                      key=itemgetter(0))

    def chunks(self, env: str, run_id: str, key: str, after: int,
               limit: int = 1000) -> Chunks:
        """Chunks of stream ``key`` after sequence number ``after``, as JSON text."""
        check_stream_key(key)
        with self.engine.store.transaction(write=False) as tx:
            # status before chunks: a run seen final has written every chunk it ever will
            row = tx.one("get_run", id=run_id, environment=env)
            if row is None:
                raise RunNotFoundError(f"no run {run_id!r} in environment {env!r}",
                                       run_id=run_id)
            found = tx.all("list_stream_chunks", run_id=run_id, key=key, after=after,
                           limit=limit)
        items = [(int(r["seq"]), str(r["chunk"])) for r in found]
        return Chunks(items, is_final(row["status"]) and len(items) < limit)
