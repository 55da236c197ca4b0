"""What a deploy check replays: an environment's runs that are not final, with journals.

``outlast deploy --check`` replays every run that new code may have to resume: those of
the environment's current version and those not pinned to a version yet (the current
version's workers take them); or those of one version asked for by name; or, in an
environment with no current version, all of them (``scope_of``). An environment can hold
tens of thousands of such runs, so they are read a page at a time (by run id, one read
transaction per page: the run rows and their journals in two statements), and the caller
replays one page before the next is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from outlast.core.settings import project_settings
from outlast.core.versions import check_version
from outlast.engine import journal, versions
from outlast.engine.blobs import Blobs
from outlast.engine.statuses import FINAL
from outlast.store.blobs import open_blob_url
from outlast.store.protocol import Store

#: runs read (and replayed) at a time
PAGE = 500

Recorded = tuple[dict[str, Any], list[dict[str, Any]]]


@dataclass(frozen=True)
class Scope:
    """Which runs in flight a check reads: those pinned to ``version`` (None: any) and,
    with ``unpinned``, those not pinned yet."""

    version: str | None = None
    unpinned: bool = False

    def describe(self) -> str:
        if self.version is None:
            return "all versions"
        return f"version {self.version}{' and runs not pinned yet' if self.unpinned else ''}"


def scope_of(store: Store, environment: str, version: str | None = None) -> Scope:
    """``version`` when given; else the current version and the unpinned runs; else (no
    current version) every run in flight."""
    if version is not None:
        return Scope(check_version(version))
    with store.transaction(write=False) as tx:
        current = versions.current(tx, environment)
    return Scope(current, unpinned=current is not None)


def blobs_of(store: Store) -> Blobs:
    """The blob store values kept apart went to, as a worker of this process's settings
    finds it (``OUTLAST_BLOB_URL`` or ``[blobs]`` in the project file, else the store's
    own)."""
    settings = project_settings()
    where = open_blob_url(settings.blob_url) if settings.blob_url else store.blob_store()
    return Blobs(where, settings.blob_threshold, settings.max_payload_bytes)


def runs_to_check(store: Store, environment: str, scope: Scope = Scope(), *,
                  page: int = PAGE, blobs: Blobs | None = None) -> Iterator[list[Recorded]]:
    """Pages of (run row, journal) of the environment's non-final runs in ``scope``,
    oldest id first, with payloads and results kept apart read back: a replay sees the
    values a worker's claim hands its code."""
    found = blobs if blobs is not None else blobs_of(store)
    after = ""
    while True:
        with store.transaction(write=False) as tx:
            rows = tx.all("runs_to_check", environment=environment, version=scope.version,
                          unpinned=scope.unpinned, final=sorted(FINAL), after=after,
                          limit=page)
            journals = journal.entries_of(tx, [r["id"] for r in rows])
        if rows:
            yield [(dict(r) | {"payload": found.text(r["payload"])},
                    [found.entry(e) for e in journals[r["id"]]]) for r in rows]
        if len(rows) < page:
            return
        after = rows[-1]["id"]
