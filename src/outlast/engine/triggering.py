"""Creating runs: one trigger, or a batch of up to 1,000 in one transaction.

Idempotency: the same key for the same task returns the existing run while the key
lives; an expired key is released from its old run and taken by the new one. Two
concurrent triggers with one key race on a unique index, and the loser reads the winner.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from outlast.core.definitions import TaskDefinition
from outlast.core.options import DEFAULT_IDEMPOTENCY_TTL, TriggerOptions
from outlast.engine import announce, debounce, events, versions
from outlast.engine.blobs import Blobs
from outlast.engine.statuses import RunStatus
from outlast.errors import ValidationError, at_item
from outlast.ids import new_id
from outlast.jsonutil import dumps
from outlast.store.protocol import Row, Tx

MAX_BATCH = 1000
_QUEUED = RunStatus.QUEUED.value
_DELAYED = RunStatus.DELAYED.value
#: from this many new runs without idempotency keys, the rows are loaded in bulk
#: (``load_runs``: PostgreSQL's ``COPY``) rather than sent as one JSON value
LOAD_FROM = 100


@dataclass(frozen=True, init=False)
class NewRun:
    """A validated request to create one run."""

    task_id: str
    payload_json: str
    options: TriggerOptions
    parent_id: str | None = None
    root_id: str | None = None
    batch_id: str | None = None
    replayed_from: str | None = None
    #: the W3C trace context the trigger was made in (``observability``): each attempt of
    #: the run is a child of it; never shown in the run's metadata
    traceparent: str | None = None

    def __init__(self, task_id: str, payload_json: str, options: TriggerOptions,
                 parent_id: str | None = None, root_id: str | None = None,
                 batch_id: str | None = None, replayed_from: str | None = None,
                 traceparent: str | None = None) -> None:
        # the fields in one update of the instance's dict: a frozen dataclass's own
        # ``__init__`` sets them one ``object.__setattr__`` at a time, 1.5 us a request,
        # a thousand times a batch
        self.__dict__.update(task_id=task_id, payload_json=payload_json, options=options,
                             parent_id=parent_id, root_id=root_id, batch_id=batch_id,
                             replayed_from=replayed_from, traceparent=traceparent)


@dataclass(frozen=True)
class PlainBatch:
    """A batch of one task's runs that share their options, none of which must read first
    (no debounce, idempotency key or pinned version): each run's request is made, and its
    payload checked and written (``to_json``), as its row is written (``trigger_plain``).
    On PostgreSQL that overlaps the database's work on the rows sent before. An item that
    fails fails the batch whole, with its own error, as in a list of ``NewRun``s; nothing
    is committed (a payload kept as a blob before it stays until upkeep removes orphans).
    """

    task_id: str
    options: TriggerOptions
    #: each run's payload as given, not yet checked
    payloads: list[Any]
    to_json: Callable[[Any], str]
    batch_id: str | None = None
    traceparent: str | None = None
    #: called with the batch's runs (``trigger_plain``'s answer) once the last one's row is
    #: made, before the commit: what the caller makes of them (its answer) is made while the
    #: database still inserts them, and thrown away with the batch if it fails
    made: Callable[[list[Triggered]], None] | None = None

    def __len__(self) -> int:
        return len(self.payloads)

    def check(self) -> None:
        """Check every payload, writing nothing: the first one's error raised, naming
        its item."""
        for index, payload in enumerate(self.payloads):
            item_json(self.to_json, payload, index)


def item_json(to_json: Callable[[Any], str], payload: Any, index: int) -> str:
    """The payload of a batch's item ``index`` as JSON; its error names the item."""
    try:
        return to_json(payload)
    except ValidationError as error:
        raise at_item(error, index) from None


def plain_options(options: TriggerOptions) -> bool:
    """Whether runs made with ``options`` may go in a ``PlainBatch``."""
    return options.debounce is None and not options.idempotency_key and options.version is None


class Triggered(NamedTuple):
    """A trigger's run, and whether the trigger created it. A tuple: once the collector has
    seen that it holds nothing it must walk (a row, a flag), it stops walking it, where a
    batch's thousand objects would each be walked until the batch is answered."""

    row: Row
    created: bool


def build_row(env: str, definition: TaskDefinition, req: NewRun, now: float,
              blobs: Blobs | None = None) -> dict[str, Any]:
    """The values of a new ``runs`` row, with the task's defaults applied; a payload over
    the blob threshold is written to ``blobs`` first and the row references it (without
    ``blobs``, only for payloads the engine makes itself, small ones: kept inline)."""
    return RowMaker(env, now, blobs).row(definition, req)


class RowMaker:
    """New ``runs`` rows (``build_row``) made at one moment in one environment.

    What the task's defaults and the trigger's options give is the same for every run of a
    batch made with one definition and one ``TriggerOptions`` (the API parses equal
    options once): it is worked out once for a run of items that share them, and each
    row is a copy with the run's own id, payload and lineage.
    """

    def __init__(self, env: str, now: float, blobs: Blobs | None = None,
                 load_event: Callable[[], int] | None = None) -> None:
        self._env = env
        self._now = now
        self._blobs = blobs
        #: the id of a bulk load's shared ``created`` event (asked for when the first
        #: row is made, then kept by ``Tx.one_deferred``), held by each of its runs that
        #: is queued and untagged (``_shares_created``); None: each run has its own
        self._load_event = load_event
        self._shared: tuple[TaskDefinition, TriggerOptions, dict[str, Any]] | None = None
        #: how many sets of shared values were worked out: with one, every row has the
        #: same values but its own id, payload and lineage (``_insert_plain`` uses it)
        self.shares = 0

    def row(self, definition: TaskDefinition, req: NewRun) -> dict[str, Any]:
        shared = self._shared
        if shared is None or shared[0] is not definition or shared[1] is not req.options:
            shared = (definition, req.options, self._with_load_event(
                _shared_values(self._env, definition, req.options, self._now)))
            self._shared = shared
            self.shares += 1
        row = shared[2].copy()
        _own_values(row, req, self._blobs)
        return row

    def plain_rows(self, definition: TaskDefinition,
                   batch: PlainBatch) -> Iterator[dict[str, Any]]:
        """The rows ``row`` would make of the batch's requests, each payload checked as its row
        is made, without a ``NewRun`` for each (a thousand objects the collector would
        walk): the batch's runs share all but their ids and payloads."""
        shared = self._with_load_event(
            _shared_values(self._env, definition, batch.options, self._now))
        shared["batch_id"], shared["traceparent"] = batch.batch_id, batch.traceparent
        self._shared = None
        self.shares += 1
        to_json, new = batch.to_json, self._new
        for index, payload in enumerate(batch.payloads):
            try:
                row = new(shared, to_json(payload))
            except ValidationError as error:  # the payload's own: which item it is
                raise at_item(error, index) from None
            yield row

    def _with_load_event(self, shared: dict[str, Any]) -> dict[str, Any]:
        """``shared`` holding the load's ``created`` event where its runs share it."""
        if self._load_event is not None and _shares_created(shared):
            shared["created_event"] = self._load_event()
        return shared

    def _new(self, shared: dict[str, Any], payload_json: str) -> dict[str, Any]:
        """A copy of ``shared`` with a new run's id and its payload (kept as a blob when
        large): ``_own_values`` but the lineage, which ``plain_rows``' shared values hold."""
        row = shared.copy()
        run_id = row["id"] = new_id("run")
        row["payload"] = (payload_json if self._blobs is None
                          else self._blobs.keep_text(run_id, "payload", payload_json))
        return row


def _own_values(row: dict[str, Any], req: NewRun, blobs: Blobs | None) -> None:
    """Fill in ``row`` (``_shared_values``') what is the run's own: its id, its payload
    (kept as a blob when large) and its lineage."""
    run_id = row["id"] = new_id("run")
    row["payload"] = (req.payload_json if blobs is None
                      else blobs.keep_text(run_id, "payload", req.payload_json))
    row["parent_id"] = req.parent_id
    row["root_id"] = req.root_id or req.parent_id
    row["batch_id"] = req.batch_id
    row["replayed_from"] = req.replayed_from
    row["traceparent"] = req.traceparent


def _shared_values(env: str, definition: TaskDefinition, opts: TriggerOptions,
                   now: float) -> dict[str, Any]:
    """A row's values given by the task and the options alone; the run's own (None here)
    are filled in by ``RowMaker.row``."""
    row = _fixed_values(env, definition, opts).copy()
    delayed = opts.delay is not None and opts.delay > now
    available_at = opts.delay if delayed and opts.delay is not None else now
    ttl = row["ttl"]
    if delayed:
        row["status"] = _DELAYED
    if opts.idempotency_key:
        row["idempotency_expires_at"] = now + (
            DEFAULT_IDEMPOTENCY_TTL if opts.idempotency_key_ttl is None
            else opts.idempotency_key_ttl)
    row["available_at"] = available_at
    row["expires_at"] = available_at + ttl if ttl is not None else None
    row["created_at"] = now
    row["queued_at"] = None if delayed else now
    row["updated_at"] = now
    return row


#: the last ``_fixed_values`` worked out, and what from: a process's triggers mostly
#: repeat them (one task's definition, the engine's cached object; the options' defaults,
#: one ``TriggerOptions`` for all). Replaced whole, so threads read one or the other.
_last_fixed: tuple[str, TaskDefinition, TriggerOptions, dict[str, Any]] | None = None


def _fixed_values(env: str, definition: TaskDefinition,
                  opts: TriggerOptions) -> dict[str, Any]:
    """The values of a new run's row that do not depend on the moment, in the row's
    order; the others None (``_shared_values`` fills them in a copy). Never changed."""
    global _last_fixed
    last = _last_fixed
    if last is not None and last[1] is definition and last[2] is opts and last[0] == env:
        return last[3]
    retry = definition.retry
    fixed = {
        "id": None,
        "environment": env,
        "task_id": definition.id,
        "queue": opts.queue or definition.queue,
        "status": _QUEUED,
        "payload": None,
        "priority": opts.priority,
        "concurrency_key": opts.concurrency_key,
        "tags": dumps(list(opts.tags)) if opts.tags else "[]",
        "metadata": dumps(opts.metadata, "metadata") if opts.metadata else "{}",
        "idempotency_key": opts.idempotency_key,
        "idempotency_expires_at": None,
        "max_attempts": opts.max_attempts or retry.max_attempts,
        "retry": retry.to_json(),
        "machine": opts.machine or definition.machine,
        "max_duration": opts.max_duration or definition.max_duration,
        "ttl": opts.ttl if opts.ttl is not None else definition.ttl,
        "available_at": None,
        "expires_at": None,
        "parent_id": None,
        "root_id": None,
        "batch_id": None,
        "replayed_from": None,
        "version": opts.version,
        "traceparent": None,
        "created_at": None,
        "queued_at": None,
        "updated_at": None,
        "created_event": None,
    }
    _last_fixed = (env, definition, opts, fixed)
    return fixed


#: a run to create: its task's definition and the request
TriggerItem = tuple[TaskDefinition, NewRun]


def trigger_many(
    tx: Tx, env: str, items: list[TriggerItem], now: float,
    blobs: Blobs | None = None,
) -> list[Triggered]:
    """Insert runs (or find their idempotent twins) inside the caller's transaction; large
    payloads go to ``blobs`` (see ``build_row``). Triggers that must read first (a
    debounce, an idempotency key) are made one by one; the others together, at the end
    (``_insert_plain``)."""
    if len(items) == 1 and _alone(items[0][1].options):
        definition, req = items[0]
        return [Triggered(_insert_one(tx, env, definition, req, now, blobs), True)]
    _check_versions(tx, env, items)
    results: list[Triggered | None] = []
    plain: list[int] = []
    keyed: list[dict[str, Any]] = []
    for definition, req in items:
        if req.options.debounce is None and not req.options.idempotency_key:
            plain.append(len(results))
            results.append(None)  # made with the other plain ones, below
        else:
            results.append(_looked_up(tx, env, definition, req, now, blobs, keyed))
    rows = _insert_plain(tx, env, _rows_of([items[i] for i in plain]), len(plain), now, blobs)
    for index, row in zip(plain, rows, strict=True):
        results[index] = Triggered(row, created=True)
    _record_created(tx, env, keyed, now)
    return [r for r in results if r is not None]


def trigger_plain(tx: Tx, env: str, definition: TaskDefinition, batch: PlainBatch,
                  now: float, blobs: Blobs | None = None) -> list[Triggered]:
    """``trigger_many`` of a ``PlainBatch``: its requests made as the rows are written,
    and its answer too (on PostgreSQL, while the database inserts the rows sent before),
    handed to ``batch.made`` once complete."""
    done: list[Triggered] = []

    def rows(maker: RowMaker) -> Iterator[dict[str, Any]]:
        keep, created = done.append, tuple.__new__  # ``Triggered(row, True)``, less its call
        for row in maker.plain_rows(definition, batch):
            keep(created(Triggered, (row, True)))
            yield row
        if batch.made is not None:
            batch.made(done)

    _insert_plain(tx, env, rows, len(batch), now, blobs, alike=True)
    return done


def _alone(options: TriggerOptions) -> bool:
    """Whether a trigger of its own with ``options`` is written as ``_insert_one`` writes
    it: nothing to read first (no debounce or idempotency key, no pinned version)."""
    return options.debounce is None and not options.idempotency_key and options.version is None


def _insert_one(tx: Tx, env: str, definition: TaskDefinition, req: NewRun, now: float,
                blobs: Blobs | None) -> dict[str, Any]:
    """``_insert_plain`` of one trigger (W1's every call): its row made alone, no
    ``RowMaker`` or lists around it. On PostgreSQL the run, its event and its notes are
    the one statement ``insert_runs`` sends with its columns' values."""
    row = _shared_values(env, definition, req.options, now)
    _own_values(row, req, blobs)
    if not tx.compound_writes:
        return _insert_plain(tx, env, lambda _: iter((row,)), 1, now, blobs)[0]
    _announce_created(tx, [row], now)  # first: insert_runs sends them
    tx.many("insert_runs", [{**row, "tagged": None if row["tags"] == "[]" else True}])
    return row


def _looked_up(tx: Tx, env: str, definition: TaskDefinition, req: NewRun, now: float,
               blobs: Blobs | None, created: list[dict[str, Any]]) -> Triggered:
    """A debounced trigger, or one with an idempotency key: its run, found or inserted
    (then also kept in ``created``, to be recorded)."""
    if req.options.debounce is not None:
        return _debounced(tx, env, definition, req, now, blobs)
    existing = _live_idempotent_run(tx, env, definition.id, req.options, now)
    if existing is not None:
        return Triggered(existing, created=False)
    row = build_row(env, definition, req, now, blobs)
    if tx.run("insert_run", **row) == 0:
        # lost a race for the key: the other trigger's run is the answer
        winner = tx.one("find_idempotent_run", environment=env, task_id=definition.id,
                        idempotency_key=req.options.idempotency_key)
        assert winner is not None
        return Triggered(winner, created=False)
    created.append(row)
    return Triggered(row, created=True)


def _check_versions(tx: Tx, env: str, items: list[tuple[TaskDefinition, NewRun]]) -> None:
    """A run pinned at trigger time must be runnable (``versions.require_runnable``)."""
    for definition, req in items:
        if req.options.version is not None:
            versions.require_runnable(tx, env, req.options.version, definition.id)


def _debounced(tx: Tx, env: str, definition: TaskDefinition, req: NewRun,
               now: float, blobs: Blobs | None) -> Triggered:
    """A debounced trigger: join the key's pending run, or create (and record) a new one."""
    assert req.options.debounce is not None

    def create(delay: float | None) -> dict[str, Any]:
        opts = debounce.without_debounce_delay(req.options, delay)
        row = build_row(env, definition, replace(req, options=opts), now, blobs)
        tx.run("insert_run", **row)
        _record_created(tx, env, [row], now)
        return row

    def payload_of(run_id: str) -> str:  # a joined run takes the latest payload
        return (req.payload_json if blobs is None
                else blobs.keep_text(run_id, "payload", req.payload_json))

    row, created = debounce.trigger(tx, env, definition.id, payload_of,
                                    req.options.debounce, now, create)
    return Triggered(row, created=created)


def _rows_of(items: list[TriggerItem]) -> Callable[[RowMaker], Iterator[dict[str, Any]]]:
    """How ``_insert_plain`` makes the rows of ``items``: each with ``RowMaker.row``."""
    def rows(maker: RowMaker) -> Iterator[dict[str, Any]]:
        row = maker.row
        return (row(definition, req) for definition, req in items)
    return rows


def _insert_plain(tx: Tx, env: str, made_by: Callable[[RowMaker], Iterator[dict[str, Any]]],
                  count: int, now: float, blobs: Blobs | None,
                  alike: bool = False) -> list[dict[str, Any]]:
    """Insert the runs of triggers without an idempotency key (nothing to race for),
    recorded; their rows, in order.

    Where one statement may write several tables, a few runs, their ``created`` events
    and their tags go as one JSON value (``insert_runs``; a single run as its columns'
    values, which both sides handle faster): a trigger is one statement, queued in the
    transaction without waiting for an answer. From ``LOAD_FROM`` runs on,
    and always where no statement writes several tables (SQLite, where a row per run in
    process is the faster way in), the runs are loaded in bulk (``Tx.load``; on PostgreSQL
    a ``COPY``, which costs both sides less per run than JSON) and, from
    ``LOAD_FROM`` on, their events and tags follow as lists (``_loaded_statements``; a few are
    cheaper written a row each). The runs' rows are made as they are loaded: PostgreSQL
    inserts the first while the next are made. ``alike``: they share all but their ids and
    payloads (a ``PlainBatch``'s), which the load then reads once. The loaded runs that
    are queued and untagged share one ``created`` event (``_shares_created``, migration
    0033), whose id each row holds: the id is asked for with the load; only the first of
    them gets a ``created`` row (``_loaded_statements``).
    """
    if not count:
        return []
    few = count < LOAD_FROM
    if few and tx.compound_writes:
        rows = list(made_by(RowMaker(env, now, blobs)))
        _announce_created(tx, rows, now)  # first: insert_runs sends them
        tagged = any(r["tags"] != "[]" for r in rows) or None  # else no tags' part is sent
        values = rows[0] if len(rows) == 1 else {"rows": _rows_json(rows)}  # one: its columns
        tx.many("insert_runs", [{**values, "tagged": tagged}])
        return rows
    loaded: list[dict[str, Any]] = []
    # a bulk load's queued untagged runs share one ``created`` event: its id comes first
    # and each row holds it (``RowMaker``)
    maker = RowMaker(env, now, blobs, None if few else events.next_id(tx))

    def last_made() -> None:
        """Worked out as soon as the last row is made (PostgreSQL is still inserting the
        ones before it): the announcements, which wait for the commit, and the events'
        and tags' statements, queued to follow the load (``Tx.load``: PostgreSQL writes
        their parameters meanwhile)."""
        # made from one set of shared values: what the rows share is read from the first
        alike = loaded[0] if maker.shares == 1 else None
        _announce_created(tx, loaded, now, alike)
        if not few:
            for name, params in _loaded_statements(env, loaded, now, alike):
                tx.many(name, [params])

    tx.load("load_runs", _kept(loaded, made_by(maker), last_made), alike=alike)
    if few:
        _write_created(tx, env, loaded, now)
    return loaded


def _kept(out: list[dict[str, Any]], rows: Iterator[dict[str, Any]],
          done: Callable[[], None]) -> Iterator[dict[str, Any]]:
    """``rows``, each kept in ``out`` as it is taken; ``done()`` after the last."""
    append = out.append
    for row in rows:
        append(row)
        yield row
    done()


#: one encoder for every batch of rows (``json.dumps`` with options makes one per call)
_ROWS_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _rows_json(rows: list[dict[str, Any]]) -> str:
    """The rows as one JSON array; their values are text already checked, numbers, None."""
    return _ROWS_JSON.encode(rows)


def _record_created(tx: Tx, env: str, rows: list[dict[str, Any]], now: float) -> None:
    """The ``created`` events, tags and notifications of runs inserted one by one."""
    if not rows:
        return
    _write_created(tx, env, rows, now)
    _announce_created(tx, rows, now)


def _write_created(tx: Tx, env: str, rows: list[dict[str, Any]], now: float) -> None:
    tags = [
        {"run_id": r["id"], "environment": env, "tag": tag}
        for r in rows
        for tag in _tag_list(r["tags"])
    ]
    tx.many("insert_run_tag", tags)
    events.append(tx, [events.event_row(r["id"], "created", now, r["status"]) for r in rows])


def _shares_created(row: dict[str, Any]) -> bool:
    """Whether a run loaded in bulk shares the load's ``created`` event: a queued run
    without tags, whose event the timeline makes of its row (status QUEUED). A delayed
    one's event has its own status; a tagged one's is what the tag's realtime feed
    finds it by (``realtime_tag_events``)."""
    return bool(row["status"] == _QUEUED and row["tags"] == "[]")


def _loaded_statements(env: str, rows: list[dict[str, Any]], now: float,
                       alike: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """The ``created`` events and the tags of runs loaded in bulk: a statement each, their
    values as lists, which waits for no answer (on PostgreSQL it goes with the commit).
    Of the runs that share the load's event (``created_event``), the first gets a row of
    its own, written now: its id is newer than any event committed while the load ran,
    so the environment's realtime feed and a parent's trace mark move past them to it
    (``realtime_env_last_event``, ``trace_mark``). ``alike``: a row whose status, tags
    and ``created_event`` every one of ``rows`` has."""
    if alike:
        own = rows[:1] if alike["created_event"] is not None else rows
    else:
        first = next((r for r in rows if r["created_event"] is not None), None)
        own = [r for r in rows if r["created_event"] is None or r is first]
    statuses = [alike["status"]] * len(own) if alike else [r["status"] for r in own]
    statements = [("insert_created_events", {
        "ids": [r["id"] for r in own], "statuses": statuses, "at": now})]
    if alike and alike["tags"] == "[]":
        return statements
    tagged = [(r["id"], tag) for r in rows if r["tags"] != "[]" for tag in _tag_list(r["tags"])]
    if tagged:
        statements.append(("insert_new_run_tags", {
            "environment": env, "run_ids": [run_id for run_id, _ in tagged],
            "tags": [tag for _, tag in tagged]}))
    return statements




def _announce_created(tx: Tx, rows: list[dict[str, Any]], now: float,
                      alike: dict[str, Any] | None = None) -> None:
    """``alike``: a row whose queue, status and moments every one of ``rows`` has."""
    if len(rows) == 1:  # a single trigger's: its notes without the sets and lists
        _announce_one(tx, rows[0], now)
        return
    sample = [alike] if alike else rows
    for queue in sorted({r["queue"] for r in sample if r["status"] == _QUEUED}):
        tx.notify(events.QUEUED_CHANNEL, queue)
    events.runs_changed(tx, [r["id"] for r in rows])  # realtime: tag subscribers learn
    # a short delay or TTL: upkeep
    announce.due(tx, announce.earliest_run_moment(sample), now)


def _announce_one(tx: Tx, row: dict[str, Any], now: float) -> None:
    """``_announce_created`` of one run: the notes it would send, in the same order."""
    status = row["status"]
    if status == _QUEUED:
        tx.notify(events.QUEUED_CHANNEL, row["queue"])
    tx.notify(events.CHANGED_CHANNEL, row["id"])  # ``runs_changed`` of one id
    expires_at = row["expires_at"]
    if status == _DELAYED or expires_at is not None:
        announce.due(tx, announce.earliest_run_moment((row,)), now)


def _tag_list(tags_json: str) -> list[str]:
    return [] if tags_json == "[]" else list(json.loads(tags_json))


def _live_idempotent_run(
    tx: Tx, env: str, task_id: str, opts: TriggerOptions, now: float
) -> Row | None:
    if not opts.idempotency_key:
        return None
    row = tx.one("find_idempotent_run", environment=env, task_id=task_id,
                 idempotency_key=opts.idempotency_key)
    if row is None:
        return None
    if row["idempotency_expires_at"] is not None and row["idempotency_expires_at"] <= now:
        tx.run("release_idempotency_key", id=row["id"], now=now)
        return None
    return row
