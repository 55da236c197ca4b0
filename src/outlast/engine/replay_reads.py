"""What a deploy check replays: an environment's runs that are not final, with journals.

``outlast deploy --check`` replays every run that new code may have to resume. An
environment can hold tens of thousands of them, so they are read a page at a time (by run
id, one read transaction per page: the run rows and their journals in two statements),
and the caller replays one page before the next is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from outlast.engine import journal
from outlast.engine.statuses import FINAL
from outlast.store.protocol import Store

#: runs read (and replayed) at a time
PAGE = 500

Recorded = tuple[dict[str, Any], list[dict[str, Any]]]


def runs_to_check(store: Store, environment: str, *, version: str | None = None,
                  page: int = PAGE) -> Iterator[list[Recorded]]:
    """Pages of (run row, journal) of the environment's non-final runs, oldest id first;
    ``version`` keeps only the runs pinned to it."""
    after = ""
    while True:
        with store.transaction(write=False) as tx:
            rows = tx.all("runs_to_check", environment=environment, version=version,
                          final=sorted(FINAL), after=after, limit=page)
            journals = journal.entries_of(tx, [r["id"] for r in rows])
        if rows:
            yield [(dict(r), journals[r["id"]]) for r in rows]
        if len(rows) < page:
            return
        after = rows[-1]["id"]
