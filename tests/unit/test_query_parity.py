"""Named queries: written once where the dialects agree, and each one used.

``store/queries.sql`` holds the queries both dialects run as written; a dialect's own
``queries.sql`` holds only the ones it writes differently. ``MAY_DIFFER`` is the list of
those: a new override has to be added here on purpose, and one that no longer differs has
to move back to the shared file.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import outlast
from outlast.store.postgres.outbox import NOTIFY_PARAM
from outlast.store.postgres.store import LAZY_PARAM
from outlast.store.queries import (
    dialect_queries,
    load_queries,
    migration_files,
    parse_queries,
    shared_queries,
)

SRC = Path(outlast.__file__).parent
DIALECTS = ["sqlite", "postgres"]

#: Queries each dialect writes its own way. The reasons, in SQL: lists (SQLite reads JSON
#: text with ``json_each``, PostgreSQL takes arrays), row locks (``FOR UPDATE [SKIP
#: LOCKED]``, which SQLite neither has nor needs under ``BEGIN IMMEDIATE``), typed NULL
#: tests (``:param::text IS NULL``), byte-order collation of keys, statements that
#: write several tables at once (PostgreSQL's data-modifying CTEs), and rounding down
#: (SQLite's ``CAST(x AS INTEGER)`` truncates, PostgreSQL's rounds: ``floor`` there).
MAY_DIFFER = frozenset({
    "claim_hooks", "claim_unlimited", "claim_unlimited_in", "complete_due_sleeps",
    "complete_runs_logged", "due_waitpoints", "end_waiting_run", "error_buckets",
    "error_group_buckets", "executing_counts",
    "executing_key_counts", "find_schedule_by_dedup", "get_runs", "get_waitpoint",
    "heartbeat_runs", "insert_journal", "key_heads", "lapsed_leases", "list_api_keys",
    "list_declarative_schedules", "list_journals", "list_schedules",
    "list_tokens", "lock_debounce", "lock_environment_limit", "lock_flow_queues",
    "lock_queue", "lock_run", "lock_run_lease", "lock_run_leases", "lock_runs", "lock_schedule",
    "lock_version",
    "other_candidates", "queue_candidates", "resume_settled_runs", "runs_to_check", "start_runs",
    "window_start_at",
    # retention: lists of ids, and the index expression (max() / GREATEST())
    "retention_batch_trees", "retention_candidates", "retention_children", "retention_count",
    "retention_delete_alert_outbox", "retention_delete_attempts", "retention_delete_debounces",
    "retention_delete_run_events", "retention_delete_run_journal", "retention_delete_run_logs",
    "retention_delete_run_stream_chunks", "retention_delete_run_tags", "retention_delete_runs",
    "retention_delete_schedule_ticks", "retention_delete_waitpoints", "retention_tree_facts",
    # blob orphans: lists of ids
    "existing_run_ids", "existing_waitpoint_ids",
    # runs lists and counts that read EXECUTING runs apart: PostgreSQL's list indexes
    # leave them out (its migration 0028), SQLite's hold every run
    "dashboard_active_counts", "dashboard_recent_runs", "dashboard_task_recent",
    "metrics_live_runs", "retention_environments", "retention_task_ids",
    "dev_runs_to_follow", "pinned_active_run", "pinned_run_counts",
    # the runs list: PostgreSQL reads a page's QUEUED runs with a skip scan of runs_queued
    # (its migration 0029: LATERAL, an array of ids), SQLite with the others
    "list_runs",
    # the database's own bookkeeping: PostgreSQL's catalog and statistics, SQLite's pages
    "dead_rows", "table_sizes",
    # new runs from a JSON array of rows: json_each / json_populate_recordset, and the
    # events and tags PostgreSQL writes in the same statement
    "insert_runs",
    # runs in bulk (``Tx.load``): PostgreSQL's COPY, SQLite's INSERT
    "load_runs",
    # the events and tags of runs loaded in bulk, as lists: arrays, or JSON read side by side
    "insert_created_events", "insert_new_run_tags",
    # the id an event row will have: PostgreSQL's sequence, SQLite's sqlite_sequence
    "next_event_id",
})

#: what marks a text as one dialect's: it belongs in that dialect's own file
_DIALECT_ONLY = re.compile(r"json_each|::\w|FOR UPDATE|ANY\(|unnest|jsonb|COLLATE")


def test_both_dialects_define_the_same_query_names() -> None:
    sqlite, postgres = set(load_queries("sqlite")), set(load_queries("postgres"))
    assert sqlite, "no queries loaded"
    assert sorted(sqlite - postgres) == [], "only in sqlite"
    assert sorted(postgres - sqlite) == [], "only in postgres"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_dialect_writes_its_own_way_only_the_queries_listed(dialect: str) -> None:
    assert sorted(set(dialect_queries(dialect)) - MAY_DIFFER) == []


def test_every_query_listed_as_differing_is_written_per_dialect() -> None:
    overridden = set(dialect_queries("sqlite")) | set(dialect_queries("postgres"))
    assert sorted(MAY_DIFFER - overridden) == []


def test_a_dialects_own_query_really_differs() -> None:
    """Text both dialects (or a dialect and the shared file) agree on is written once."""
    shared = shared_queries()
    sqlite, postgres = dialect_queries("sqlite"), dialect_queries("postgres")
    same = [n for n in sqlite.keys() & postgres.keys() if sqlite[n] == postgres[n]]
    same += [n for d in (sqlite, postgres) for n in d if shared.get(n) == d[n]]
    assert sorted(same) == []


def test_shared_queries_use_no_one_dialects_syntax() -> None:
    marked = {n: m.group() for n, q in shared_queries().items()
              if (m := _DIALECT_ONLY.search(q))}
    assert marked == {}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_no_query_is_empty(dialect: str) -> None:
    empty = [name for name, text in load_queries(dialect).items() if not text.strip()]
    assert empty == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_both_dialects_use_the_same_parameters(dialect: str) -> None:
    """What callers pass is the same; a parameter the PostgreSQL store fills in itself (a
    statement that sends the transaction's notifications, or makes its commit lazy) is
    not the caller's."""
    mine = {n: _parameters(q) - COMPOUND_ONLY.get(n, set())
            for n, q in load_queries(dialect).items()}
    other = "postgres" if dialect == "sqlite" else "sqlite"
    theirs = {n: _parameters(q) - COMPOUND_ONLY.get(n, set())
              for n, q in load_queries(other).items()}
    assert {n: p for n, p in mine.items() if theirs.get(n) != p} == {}


#: what only a claim statement that finishes its starts itself needs (the events' data and
#: the realtime notes' channel, ``Tx.compound_writes``); elsewhere the caller writes them
#: (``transitions.log_starts``)
COMPOUND_ONLY = {name: {"changed_channel", "start_data"}
                 for name in ("claim_unlimited", "claim_unlimited_in")}


def _parameters(text: str) -> set[str]:
    """What a caller passes: ``:name`` parameters, or a ``COPY``'s columns (``Tx.load``
    takes each row's value of a column by its name)."""
    copy = re.search(r"^COPY \w+ \((.*?)\) FROM STDIN", text, re.S | re.M)
    if copy:
        return {c.strip() for c in copy.group(1).split(",")}
    return set(re.findall(r"(?<![:\w]):(\w+)", text)) - {NOTIFY_PARAM, LAZY_PARAM}


def _inserted_run_columns(text: str) -> list[str]:
    """The columns of a query's ``INSERT INTO runs (…)`` or ``COPY runs (…)``, sorted (a
    load takes each row's values by name, in the order its ``COPY`` lists them)."""
    found = re.search(r"(?:INSERT INTO|COPY) runs \((.*?)\)", text, re.S)
    assert found, text
    return sorted(c.strip() for c in found.group(1).split(","))


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_a_batch_of_new_runs_writes_every_column_one_new_run_does(dialect: str) -> None:
    """``insert_runs`` (a batch from one JSON value) and ``insert_run`` (one row) write the
    same columns: a column added to one alone is silently dropped for runs the other makes."""
    queries = load_queries(dialect)
    loaded = [c for c in _inserted_run_columns(queries["load_runs"]) if c not in LOADED_ONLY]
    assert (_inserted_run_columns(queries["insert_runs"])
            == _inserted_run_columns(queries["insert_run"])
            == loaded)


#: what only runs loaded in bulk have: the load's shared ``created`` event (migration 0033);
#: a run inserted alone or in a few has a ``created`` row of its own
LOADED_ONLY = {"created_event"}


def test_every_query_named_in_the_code_exists() -> None:
    call = re.compile(r"""tx\.(?:one|all|run|many|load)\(\s*["'](\w+)["']""")
    used = {
        name
        for path in SRC.rglob("*.py")
        for name in call.findall(path.read_text())
    }
    assert used, "the pattern found no query calls"
    assert sorted(used - set(load_queries("sqlite"))) == []


def test_every_query_is_named_somewhere_in_the_code() -> None:
    """A query no code names is dead text that still has to be kept in step."""
    strings = {
        node.value
        for path in SRC.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert sorted(set(load_queries("sqlite")) - strings) == []


def test_migrations_are_numbered_alike_in_both_dialects() -> None:
    sqlite = [name for name, _ in migration_files("sqlite")]
    postgres = [name for name, _ in migration_files("postgres")]
    assert sqlite == postgres
    assert all(re.fullmatch(r"\d{4}_\w+\.sql", name) for name in sqlite)
    numbers = [int(name[:4]) for name in sqlite]
    # numbers are handed out ahead of merging, so one may land before a lower one: unique
    # and increasing, not necessarily without a gap
    assert numbers == sorted(set(numbers)) and numbers[0] == 1


def test_parse_queries_rejects_a_duplicate_name() -> None:
    with pytest.raises(ValueError, match="twice"):
        parse_queries("-- name: a\nSELECT 1\n-- name: a\nSELECT 2\n")


def test_parse_queries_splits_on_headers() -> None:
    assert parse_queries("-- intro\n-- name: a\nSELECT 1\n\n-- name: b\nSELECT :x\n") == {
        "a": "SELECT 1",
        "b": "SELECT :x",
    }


def test_a_query_ends_before_the_next_sections_heading() -> None:
    text = "-- name: a\n-- why\nSELECT 1\n\n-- next section\n\n-- name: b\nSELECT 2\n"
    assert parse_queries(text) == {"a": "-- why\nSELECT 1", "b": "SELECT 2"}


def test_a_dialects_own_query_wins_over_the_shared_one() -> None:
    for dialect in DIALECTS:
        merged = load_queries(dialect)
        assert {n: merged[n] for n in dialect_queries(dialect)} == dialect_queries(dialect)
