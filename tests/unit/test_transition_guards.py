"""Only ``engine/transitions.py`` changes a run's status, and each of its queries is guarded
by the ``from`` statuses the status table declares.

The SQL of both dialects is read here: every ``UPDATE runs SET status = …`` (a whole
statement or a writing CTE) must be a query ``transitions.QUERIES`` names, its
``WHERE … status`` guard must be the ``from`` set of the transitions it applies, and its
new status their target. A guard or target passed as a parameter is allowed only where the
transitions differ (``tests/integration/test_transition_table.py`` tries every transition
on every status, on both stores, so those are checked by what they do). The Python is read
too: no other module runs one of these queries, nor one that writes an attempt row.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import outlast
from outlast.engine.statuses import TRANSITIONS, RunStatus
from outlast.engine.transitions import ATTEMPT_QUERIES, QUERIES
from outlast.store.queries import load_queries, parse_queries

SRC = Path(outlast.__file__).parent
OWNER = SRC / "engine" / "transitions.py"
DIALECTS = ["sqlite", "postgres"]
TX_METHODS = {"one", "all", "run", "many"}


@dataclass(frozen=True)
class StatusWrite:
    """One ``UPDATE runs`` that sets ``status``: its target and its guard, each either a set
    of literal statuses or the name of a parameter."""

    target: frozenset[str] | str
    guard: frozenset[str] | str | None


# -- reading the SQL -------------------------------------------------------------------------


def _flatten(text: str) -> tuple[str, list[str]]:
    """``text`` with each outermost parenthesized group replaced by ``(#n)``; the groups."""
    flat: list[str] = []
    groups: list[str] = []
    depth, start, quoted = 0, 0, False
    for index, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        if quoted:
            if depth == 0:
                flat.append(char)
            continue
        if char == "(":
            if depth == 0:
                start = index + 1
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                flat.append(f"(#{len(groups)})")
                groups.append(text[start:index])
                continue
        if depth == 0:
            flat.append(char)
    return "".join(flat), groups


_UPDATE_RUNS = re.compile(
    r"(?:\bUPDATE\s+runs\b(?:\s+(?:AS\s+)?\w+)?|\bINSERT\s+INTO\s+runs\b.*?\bDO\s+UPDATE)"
    r"\s+SET\b(.*)", re.I | re.S)
_CLAUSE_END = re.compile(r"\b(?:FROM|WHERE|RETURNING)\b", re.I)
_STATUS_SET = re.compile(r"(?<![\w.])status\s*=\s*([^,]+)", re.I)
_GUARD = re.compile(
    r"(?<!\w)(?:runs\.)?status\s*(?:=\s*'(?P<one>\w+)'|=\s*:(?P<param>\w+)"
    r"|IN\s*\(#(?P<in>\d+)\)|=\s*ANY\s*\(#(?P<any>\d+)\))",
    re.I,
)
_PARAM = re.compile(r"(?<![:\w]):(\w+)")


def _statement_writes(flat: str, groups: list[str]) -> list[StatusWrite]:
    match = _UPDATE_RUNS.search(flat)
    if match is None:
        return []
    rest = match.group(1)
    end = _CLAUSE_END.search(rest)
    set_clause = rest[: end.start()] if end else rest
    targets = _STATUS_SET.findall(set_clause)
    if not targets:
        return []
    assert len(targets) == 1, f"status set twice: {set_clause}"
    value = targets[0].strip()
    literal, param = re.fullmatch(r"'(\w+)'", value), re.fullmatch(r":(\w+)", value)
    assert literal or param, f"status set to neither a literal nor a parameter: {value}"
    target = frozenset({literal.group(1)}) if literal else param.group(1) if param else ""
    where = re.search(r"\bWHERE\b(.*?)(?:\bRETURNING\b|$)", rest, re.I | re.S)
    guards = _GUARD.findall(where.group(1)) if where else []
    assert len(guards) <= 1, f"more than one guard on status: {where and where.group(1)}"
    guard = _guard_of(guards[0], groups) if guards else None
    return [StatusWrite(target, guard)]


def _guard_of(found: tuple[str, str, str, str], groups: list[str]) -> frozenset[str] | str:
    one, param, in_group, any_group = found
    if one:
        return frozenset({one})
    if param:
        return param
    inner = groups[int(in_group or any_group)]
    literals = re.findall(r"'(\w+)'", inner)
    params = _PARAM.findall(inner)
    assert bool(literals) != bool(params), f"guard neither literal nor one parameter: {inner}"
    return frozenset(literals) if literals else params[0]


def status_writes(sql: str) -> list[StatusWrite]:
    """Every ``UPDATE runs … SET status`` in ``sql``, at any depth (CTEs, subqueries)."""
    sql = re.sub(r"--[^\n]*", "", sql)
    flat, groups = _flatten(sql)
    writes = _statement_writes(flat, groups)
    for group in groups:
        writes += status_writes(group)
    return writes


def status_changing_queries(queries: dict[str, str]) -> dict[str, list[StatusWrite]]:
    return {name: found for name, sql in queries.items() if (found := status_writes(sql))}


# -- reading the Python ----------------------------------------------------------------------


def foreign_uses(source: str, names: set[str]) -> list[str]:
    """Where ``source`` runs one of ``names`` (``tx.run("resume_run", …)``) or keeps one in
    a string (to run it later). A name that is also a transition's (``enqueue_delayed``)
    is a string elsewhere in that role (event kinds, table keys), so only its calls count."""
    found: list[str] = []
    called: set[int] = set()
    nodes = list(ast.walk(ast.parse(source)))
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in TX_METHODS and node.args \
                and isinstance(node.args[0], ast.Constant) and node.args[0].value in names:
            found.append(f"line {node.lineno}: {node.func.attr}({node.args[0].value!r})")
            called.add(id(node.args[0]))
    kept = names - set(TRANSITIONS)
    found += [f"line {node.lineno}: {node.value!r}" for node in nodes
              if isinstance(node, ast.Constant) and node.value in kept and id(node) not in called]
    return sorted(found)


# -- the invariants --------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_status_changing_query_is_one_transitions_owns(dialect: str) -> None:
    found = status_changing_queries(load_queries(dialect))
    assert len(found) >= 10, "the parser no longer sees the status writes"
    assert sorted(set(found) - set(QUERIES)) == [], "changes run status outside the table"
    assert sorted(set(QUERIES) - set(found)) == [], "in the table, but changes no status"


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", sorted(QUERIES))
def test_each_querys_guard_and_target_match_the_status_table(dialect: str, name: str) -> None:
    writes = status_writes(load_queries(dialect)[name])
    applied = QUERIES[name]
    assert applied and all(t in TRANSITIONS for t in applied), applied
    sources = {TRANSITIONS[t][0] for t in applied}
    targets = {TRANSITIONS[t][1] for t in applied}
    assert None not in targets, "a status-changing query needs a declared target"
    assert len(writes) == 1, f"{name} changes status {len(writes)} times"
    (write,) = writes
    if isinstance(write.guard, str):  # passed in: only where the transitions differ
        assert len(sources) > 1, f"{name}: write the guard {sorted(sources)} as literals"
    else:
        assert write.guard is not None, f"{name} is not guarded on status"
        assert len(sources) == 1, f"{name}: one guard cannot be {sorted(map(sorted, sources))}"
        assert write.guard == {s.value for s in sources.pop()}, name
    if isinstance(write.target, str):
        assert len(targets) > 1, f"{name}: write the target {targets} as a literal"
    else:
        assert write.target == {s.value for s in targets if s is not None}, name


_ATTEMPT_WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+attempts\b", re.I)
#: deleting a final run's attempts together with the run (retention, ``engine/pruning.py``)
#: changes no run's state
_PRUNES = frozenset({"retention_delete_attempts"})


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_query_writing_an_attempt_row_is_one_transitions_owns(dialect: str) -> None:
    found = {name for name, sql in load_queries(dialect).items() if _ATTEMPT_WRITE.search(sql)}
    assert sorted(found - set(QUERIES) - set(ATTEMPT_QUERIES) - _PRUNES) == []
    assert sorted(set(ATTEMPT_QUERIES) - found) == []
    assert found >= _PRUNES


def test_no_module_but_transitions_runs_a_status_changing_query() -> None:
    owned = set(QUERIES) | set(ATTEMPT_QUERIES)
    offenders = {
        str(path.relative_to(SRC)): uses
        for path in sorted(SRC.rglob("*.py"))
        if path != OWNER and (uses := foreign_uses(path.read_text(), owned))
    }
    assert offenders == {}


# -- the checks can fail ---------------------------------------------------------------------


def test_the_sql_check_sees_a_new_status_write_and_its_guard() -> None:
    queries = parse_queries(
        "-- name: sneaky\n"
        "UPDATE runs SET updated_at = :now, status = 'QUEUED'\n"
        "WHERE id IN (SELECT id FROM runs WHERE status = 'DELAYED') AND status IN ('WAITING')\n"
        "-- name: cte\n"
        "WITH x AS (UPDATE runs AS r SET status = :status FROM d WHERE r.status = ANY(:from))\n"
        "SELECT 1\n"
        "-- name: harmless\n"
        "UPDATE runs SET metadata = :m WHERE id = :id AND status = 'EXECUTING'\n"
    )
    found = status_changing_queries(queries)
    assert found == {
        "sneaky": [StatusWrite(frozenset({"QUEUED"}), frozenset({"WAITING"}))],
        "cte": [StatusWrite("status", "from")],
    }
    assert not set(found) <= set(QUERIES)
    upsert = "INSERT INTO runs (id, status) VALUES (:id, 'QUEUED')\n" \
        "ON CONFLICT (id) DO UPDATE SET status = 'QUEUED'"
    assert status_writes(upsert) == [StatusWrite(frozenset({"QUEUED"}), None)]
    with pytest.raises(AssertionError, match="neither a literal nor a parameter"):
        status_writes("UPDATE runs SET status = CASE WHEN a THEN 'QUEUED' END WHERE id = :id")


def test_the_python_check_sees_a_foreign_call() -> None:
    source = (
        "def f(tx):\n"
        "    tx.run('resume_run', id=1)\n"
        "    name = 'start_runs'\n"
        "    kind = 'enqueue_delayed'\n"
        "    tx.all('enqueue_delayed', id=1)\n"
    )
    assert foreign_uses(source, set(QUERIES)) == [
        "line 2: run('resume_run')", "line 3: 'start_runs'", "line 5: all('enqueue_delayed')",
    ]


def test_every_status_is_a_status() -> None:
    for name in QUERIES:
        for write in status_writes(load_queries("sqlite")[name]):
            for statuses in (write.target, write.guard):
                if isinstance(statuses, frozenset):
                    assert statuses <= {s.value for s in RunStatus}, name
