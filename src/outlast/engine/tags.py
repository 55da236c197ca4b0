"""Adding tags to a run after it was triggered: from inside it (``tags.add``) or from
outside (``runs.add_tags``, ``POST /runs/{id}/tags``).

A run's tags live twice: as a JSON list on its row (what snapshots show) and as rows of
``run_tags`` (what ``runs.list(tag=)`` and tag subscribers search). Both change in one
transaction, with a ``tags`` run event, so a subscriber of a newly added tag starts
seeing the run at that event and the run's own subscribers get a snapshot with it.

The limits are the trigger option's: at most 10 tags, 1-128 characters each. Going past
them is a ``ValidationError`` and changes nothing; a tag the run already has is a no-op.
Tags are labels for finding runs, so finished runs may be tagged too; an attempt tags
only its own run, fenced by its lease.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from outlast import inputs
from outlast.core.options import MAX_TAG_LENGTH, MAX_TAGS
from outlast.engine import events, journal
from outlast.errors import ValidationError
from outlast.jsonutil import dumps, loads
from outlast.store.protocol import Row, Tx

if TYPE_CHECKING:
    from outlast.engine import Engine


def check_tags(tags: Any) -> list[str]:
    """``tags`` as a list of distinct valid tags, in the order given."""
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list | tuple) or not tags:
        raise ValidationError(f"tags: expected a non-empty list of tags, got {tags!r}")
    for tag in tags:
        if not isinstance(tag, str) or not 1 <= len(tag) <= MAX_TAG_LENGTH:
            raise ValidationError(
                f"tags: each tag is a string of 1-{MAX_TAG_LENGTH} characters, got {tag!r}")
        inputs.text(tag, "tags")
    return list(dict.fromkeys(tags))


def merged(current: list[str], new: list[str], run_id: str) -> list[str]:
    """The run's tags with ``new`` added; a ValidationError past ``MAX_TAGS``."""
    out = current + [t for t in new if t not in current]
    if len(out) > MAX_TAGS:
        raise ValidationError(
            f"run {run_id} has {len(current)} tag(s); adding {len(out) - len(current)} more "
            f"would exceed the limit of {MAX_TAGS} tags per run", run_id=run_id,
            limit=MAX_TAGS)
    return out


def _add(tx: Tx, row: Row, new: list[str], now: float, **event: Any) -> list[str]:
    """Add ``new`` to ``row``'s tags (locked by the caller); returns the run's tags."""
    current: list[str] = loads(row["tags"]) or []
    tags = merged(current, new, row["id"])
    added = tags[len(current):]
    if not added:
        return current
    tx.run("update_run_tags", id=row["id"], tags=dumps(tags), now=now)
    tx.many("insert_run_tag", [{"run_id": row["id"], "environment": row["environment"],
                                "tag": t} for t in added])
    events.run_changed(tx, row, "tags", now, added=added, **event)
    return tags


class TagOps:
    """The engine's tag writes (``engine.tags``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, env: str, run_id: str, tags: Any) -> list[str]:
        """Add tags to any run of ``env``; returns its tags afterwards."""
        new = check_tags(tags)
        now = self.engine.clock.now()
        with self.engine.store.transaction() as tx:
            return _add(tx, journal.lock_in_env(tx, env, run_id), new, now, by="api")

    def from_attempt(self, run_id: str, lease_id: str, tags: Any) -> list[str]:
        """Add tags to the attempt's own run, while its lease holds."""
        new = check_tags(tags)
        now = self.engine.clock.now()
        with self.engine.store.transaction() as tx:
            return _add(tx, journal.hold_lease(tx, run_id, lease_id), new, now)
