"""Listing runs: filters, sorts, one search box, and keyset pages at any table size.

Each page is one ``list_runs`` query per (status, search kind) asked, merged here by the
sort key: one status or search kind a query keeps each of them on an index that answers
in the page's order (0013), where ``status IN (...)`` or ``a OR b OR c`` would make the
database read every match and sort them. On PostgreSQL, whose list indexes leave
EXECUTING and QUEUED runs out, a page without a status filter reads the EXECUTING runs with
one query, the QUEUED ones with another and all the others with a third (``status_parts``).
Pages are keyset pages: the cursor is the last row's sort key, never an offset.

The search text means, precisely:

- text starting with ``run_``: runs whose id starts with it;
- any other text: runs whose idempotency key starts with it, runs carrying exactly that
  tag, and runs whose payload JSON contains it (any case). Payload text has no index: it
  is looked for in ``SEARCH_WINDOW`` runs per page (newest first, after the other filters);
  when those are used up before the page is full, the next cursor continues below them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from outlast.engine.statuses import RunStatus
from outlast.errors import ValidationError
from outlast.store.protocol import Row, Tx

SORTS = ("created", "started", "finished")
RUN_ID_PREFIX = "run_"
#: runs read per page when looking for payload text (the bounded scan)
SEARCH_WINDOW = 2_000
#: an idempotency-key prefix held by this many runs is looked for in page order
DENSE_KEYS = 500
MAX_SEARCH = 200
_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


@dataclass(frozen=True)
class RunFilter:
    """What to list; every field narrows (all given must hold), except ``statuses`` (any)."""

    statuses: tuple[str, ...] = ()
    task: str | None = None
    queue: str | None = None
    tag: str | None = None
    version: str | None = None
    #: runs with a failed attempt in this error group (``failures.py``)
    fingerprint: str | None = None
    parent_id: str | None = None
    root_id: str | None = None
    idempotency_key: str | None = None
    created_after: float | None = None
    created_before: float | None = None
    search: str | None = None
    sort: str = "created"

    def check(self) -> None:
        unknown = set(self.statuses) - {s.value for s in RunStatus}
        if unknown:
            raise ValidationError(f"unknown status(es): {', '.join(sorted(unknown))}")
        if self.sort not in SORTS:
            raise ValidationError(f"sort must be one of {', '.join(SORTS)}, got {self.sort!r}")
        if self.search is not None and len(self.search) > MAX_SEARCH:
            raise ValidationError(f"search text is longer than {MAX_SEARCH} characters")

    def params(self, env: str) -> dict[str, Any]:
        return {"environment": env, "task_id": self.task, "queue": self.queue,
                "tag": self.tag, "version": self.version, "fingerprint": self.fingerprint,
                "parent_id": self.parent_id,
                "root_id": self.root_id, "idempotency_key": self.idempotency_key,
                "created_after": self.created_after, "created_before": self.created_before}

    @property
    def order(self) -> str:
        """The column the page is read in: ``id`` for creation order, unless a time range
        is asked (then ``created_at``, read from its index in order, never sorted)."""
        if self.sort != "created":
            return f"{self.sort}_at"
        timed = self.created_after is not None or self.created_before is not None
        return "created_at" if timed else "id"


def order_params(order: str, tag: str | None, cursor: str | None,
                 version: str | None = None) -> dict[str, Any]:
    """Which ORDER BY and keyset lines of ``list_runs`` apply (see its comment): in id
    order, a tag drives the page from run_tags, else a version from its index."""
    by = order
    if order == "id" and tag is not None:
        by = "tag_id"
    elif order == "id" and version is not None:
        by = "version_id"
    params: dict[str, Any] = {f"by_{by}": True}
    if not cursor:
        return params
    if order == "id":
        return params | {"after_tag_id" if by == "tag_id" else "after_id_only": True,
                         "after_id": cursor}
    at, _, run_id = cursor.partition(":")
    try:
        return params | {f"after_{order}": True, "after_at": float(at), "after_id": run_id}
    except ValueError:
        raise ValidationError(f"cursor {cursor!r} is not a cursor this list gave") from None


def sort_key(order: str, row: Row) -> tuple[float, str]:
    """The page order, newest first: (time, id) compared descending."""
    return (0.0 if order == "id" else float(row[order])), str(row["id"])


def cursor_of(order: str, row: Row) -> str:
    """A row as the cursor that continues below it: its id, or ``time:id`` for a time order."""
    return str(row["id"]) if order == "id" else f"{row[order]!r}:{row['id']}"


def prefix_range(prefix: str, alphabet: str | None = None) -> tuple[str, str]:
    """[prefix, next) holding every text that starts with ``prefix``.

    The last character is stepped to the next one of ``alphabet`` (run ids) or to the next
    code point, so the bound stays a letter or digit where the prefix ends in one: a
    collation that orders punctuation apart (PostgreSQL's non-C locales) would misplace a
    bound like ``prefix + "~"``.
    """
    head, last = prefix[:-1], prefix[-1]
    if alphabet and last in alphabet and last != alphabet[-1]:
        return prefix, head + alphabet[alphabet.index(last) + 1]
    if alphabet and last == alphabet[-1] and head:
        return prefix, prefix_range(head, alphabet)[1]
    return prefix, head + chr(ord(last) + 1)


def search_kinds(tx: Tx, env: str, text: str) -> Iterator[dict[str, Any]]:
    """One parameter set per thing the search text can mean (module docstring)."""
    if text.startswith(RUN_ID_PREFIX):
        if len(text) > len(RUN_ID_PREFIX):
            low, high = prefix_range(text, _ID_ALPHABET)
            yield {"id_from": low, "id_to": high, "id_length": len(low)}
        else:
            yield {}
        return
    low, high = prefix_range(text)
    sample = tx.one("count_key_prefix", environment=env, key_from=low, key_to=high,
                    limit=DENSE_KEYS)
    dense = sample is not None and int(sample["n"]) >= DENSE_KEYS
    yield {"key_from": low, "key_to": high, "key_length": len(low),
           "key_dense" if dense else "key_sparse": True}
    yield {"tag": text}
    yield {"pattern": "%" + like_escape(text.lower()) + "%", "window": SEARCH_WINDOW}


def like_escape(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


#: filters (and search kinds) whose page reads an index that holds QUEUED runs too
#: (run_tags, runs_env_version_id, run_errors, runs_parent, runs_root, the key indexes,
#: runs_pkey's range of an id prefix): there the QUEUED runs come with the others
DRIVING = ("tag", "version", "fingerprint", "parent_id", "root_id", "idempotency_key",
           "id_to", "key_sparse")


def apart_here(apart: frozenset[str], order: str, params: dict[str, Any]) -> frozenset[str]:
    """The statuses a page reads apart: the store's (``Tx.statuses_apart``), but QUEUED
    runs only for a page read in id order through the list's own indexes. A page in time
    order (runs_env_created_at, runs_env_started, runs_env_finished hold QUEUED runs) or
    driven by another index reads them with the others: apart, they would be looked for
    along that whole index (a tag's every run) for none."""
    if order == "id" and not any(params.get(name) is not None for name in DRIVING):
        return apart
    return apart - {RunStatus.QUEUED.value}


def status_parts(statuses: tuple[str, ...],
                 apart: frozenset[str] = frozenset({"EXECUTING", "QUEUED"})
                 ) -> list[dict[str, Any]]:
    """The ``list_runs`` status lines of each query a page asks. Where the list's indexes
    leave a status's runs out (``apart``: PostgreSQL's EXECUTING runs, every status change
    of a started run wrote an entry into each; its QUEUED runs, loaded in bulk), another
    index holds them: any status reads ``not_executing`` and ``not_queued``, then
    ``executing`` and ``queued``, and one status not apart says ``not_...`` of each apart
    too (the planner takes a partial index only for a query whose text implies the
    index's WHERE, and a prepared plan's status is not known). Elsewhere, one query per
    status."""
    others = {f"not_{status.lower()}": True for status in sorted(apart)}
    if not statuses:
        return [others, *({status.lower(): True} for status in sorted(apart))]
    return [{status.lower(): True} if status in apart else {"status": status} | others
            for status in statuses]


def unranged(kind: dict[str, Any]) -> dict[str, Any]:
    """A search kind for the EXECUTING runs: an id or key prefix checked on each of them,
    not read as a range of runs_pkey or the key index. They are few and runs_executing
    holds them, but a prepared statement's generic plan, which guesses any range small,
    ANDs in a bitmap of the whole range: 258 ms for ``run_0`` at 1,000,000 runs."""
    out = {k: v for k, v in kind.items() if k != "id_to"}
    if out.pop("key_sparse", None):
        out["key_dense"] = True
    return out


def list_page(tx: Tx, env: str, wanted: RunFilter, limit: int,
              cursor: str | None) -> tuple[list[Row], str | None]:
    """One page and the cursor of the next (None at the end)."""
    wanted.check()
    tx.one_snapshot()  # a page is read in parts by status: one moment for all of them
    order = wanted.order
    kinds = list(search_kinds(tx, env, wanted.search)) if wanted.search else [{}]
    found: dict[str, Row] = {}
    floor: Row | None = None
    for params in page_queries(wanted, env, kinds, tx.statuses_apart, limit, cursor):
        rows = tx.all("list_runs", **params)
        if "pattern" in params:
            rows, end = window_rows(rows, int(params["window"]))
            floor = nearest(floor, end, order)
        found.update((r["id"], r) for r in rows)
    ordered = sorted(found.values(), key=lambda r: sort_key(order, r), reverse=True)
    return cut_page(ordered, limit, floor, order)


def page_queries(wanted: RunFilter, env: str, kinds: list[dict[str, Any]],
                 apart: frozenset[str], limit: int,
                 cursor: str | None) -> Iterator[dict[str, Any]]:
    """The parameters of each ``list_runs`` query a page asks: one per search kind and
    status part (``status_parts``), their rows merged by the sort key."""
    order = wanted.order
    common = wanted.params(env) | {"window": limit + 1, "limit": limit + 1}
    for kind in kinds:
        if "tag" in kind and wanted.tag not in (None, kind["tag"]):
            kind = {"also_tag": kind["tag"]}  # the tag filter drives; this one checks
        for part in status_parts(wanted.statuses, apart_here(apart, order, common | kind)):
            params = common | (unranged(kind) if "executing" in part else kind) | part
            yield params | part_order(order, params, cursor)


def part_order(order: str, params: dict[str, Any], cursor: str | None) -> dict[str, Any]:
    """``order_params`` of one status part: in id order, the QUEUED part has its own
    (``queued``), and the part that leaves them out reads in (environment, id) order
    (``by_env_id``; both in ``list_runs``)."""
    lines = order_params(order, params["tag"], cursor, params["version"])
    if "queued" in params:
        lines.pop("by_id")
    elif "not_queued" in params:
        lines["by_env_id"] = lines.pop("by_id")
    return lines


def cut_page(ordered: list[Row], limit: int, floor: Row | None,
             order: str) -> tuple[list[Row], str | None]:
    """The page ends at its ``limit``-th row, or higher at the end of a payload window:
    below that end the window read nothing, so those rows wait for the next page."""
    cut = ordered[limit - 1] if len(ordered) > limit else None
    if floor is not None and (cut is None or sort_key(order, floor) > sort_key(order, cut)):
        cut = floor
    if cut is None:
        return ordered, None
    edge = sort_key(order, cut)
    return [r for r in ordered[:limit] if sort_key(order, r) >= edge], cursor_of(order, cut)


def window_rows(rows: list[Row], window: int) -> tuple[list[Row], Row | None]:
    """A payload search's matches, and the last run its window read when it read a whole
    window: below that run the search has not looked yet."""
    end = next((r for r in rows if r["position"] == window), None)
    matches = [r for r in rows if r["matched"]]
    for r in [*matches, *([end] if end else [])]:
        r.pop("matched", None)
        r.pop("position", None)
    return matches, end


def nearest(a: Row | None, b: Row | None, order: str) -> Row | None:
    """Of two window ends, the one higher in the list: the next page continues below it,
    so it skips nothing the other window did not read."""
    if a is None or b is None:
        return a or b
    return a if sort_key(order, a) > sort_key(order, b) else b
