"""Apply numbered, append-only migrations; shared by both dialects."""

from __future__ import annotations

from collections.abc import Callable

from outlast.store.queries import migration_files


def pending(dialect: str, applied: set[str]) -> list[tuple[str, str]]:
    return [(name, sql) for name, sql in migration_files(dialect) if name not in applied]


def apply_all(
    dialect: str,
    applied: set[str],
    apply_one: Callable[[str, str], None],
) -> list[str]:
    """Apply every pending migration in order through ``apply_one(name, sql)``."""
    done = []
    for name, sql in pending(dialect, applied):
        apply_one(name, sql)
        done.append(name)
    return done
