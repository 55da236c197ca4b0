"""When to vacuum: the run tables whose dead rows have piled up (PostgreSQL).

Each status change of a run leaves its old row version and the old version's index
entries behind until a VACUUM clears them, and the claim steps over those of every run
that left QUEUED (migration 0024 says what was measured). PostgreSQL's autovacuum clears
them, at the thresholds migration 0024 sets, when it is on and keeps up; upkeep's
``Reclaimer`` asks this module every few seconds, so a cluster with autovacuum off, or
too busy elsewhere, still gets these tables vacuumed. SQLite reports no dead rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from outlast.engine.database_size import TABLES as RUN_TABLES

if TYPE_CHECKING:
    from outlast.engine import Engine

#: the tables upkeep may vacuum: those that grow with runs, and the small ones updated
#: every few seconds (heartbeats, leases)
TABLES: tuple[str, ...] = (*RUN_TABLES, "workers", "leader_leases", "queues")
#: dead row versions a table may hold before upkeep vacuums it ...
MIN_DEAD = 1000
#: ... and their share of its live rows (autovacuum's scale factor in migration 0024)
DEAD_SHARE = 0.02
#: seconds between two vacuums of one table: dead rows a long transaction still sees
#: cannot be cleared, and vacuuming again at once would not clear them either
MIN_GAP = 60.0


def is_due(live: int, dead: int, vacuumed_at: float | None, now: float) -> bool:
    """Whether a table with these counts should be vacuumed now."""
    if dead < max(MIN_DEAD, DEAD_SHARE * live):
        return False
    return vacuumed_at is None or now - vacuumed_at >= MIN_GAP


def due_tables(engine: Engine) -> list[str]:
    """The tables of ``TABLES`` to vacuum now, in that order."""
    with engine.store.transaction(write=False) as tx:
        rows = {str(r["name"]): r for r in tx.all("dead_rows", tables=list(TABLES))}
    now = engine.clock.now()
    return [name for name in TABLES if (r := rows.get(name)) is not None and is_due(
        int(r["live"]), int(r["dead"]),
        None if r["vacuumed_at"] is None else float(r["vacuumed_at"]), now)]
