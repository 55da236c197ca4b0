"""Per-attempt capture of ``print``, ``logging`` and ``outlast.logger`` output.

Records are buffered in the child and shipped to the supervisor in batches (by count
or age), which writes them to the run's logs in batches too.

A resumed run replays its task from the top: lines written while the attempt is still
re-running recorded work (``DurableRun.replaying``) were written by the attempt that
recorded it, and are not recorded again. When the journal is not known yet (not given
with the claim, as in ``outlast.testing``), lines are held until the first durable
operation loads it, then dropped if the journal had entries; an attempt that ends with
the journal still unknown keeps them (nothing showed it replayed anything, and no read is
forced for plain tasks).
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

from outlast.observability import trace_id
from outlast.sdk.durable import DurableRun, current_run
from outlast.sdk.logger import current_sink

Ship = Callable[[list[dict[str, Any]]], None]

_MAX_BUFFER = 200
_MAX_AGE = 0.5

#: guards the partial lines of the capturing streams and the records of the log buffers
#: in this process: an attempt's threads write at once, and two of them reading and
#: replacing the same partial line, or two flushes taking the same records, would send a
#: line twice or drop one. Re-entrant: shipping a full buffer may itself print. One for
#: the process (a worker's child runs one sync attempt at a time, or coroutines on one
#: thread), so a fork has one to make anew: the child may have been forked while another
#: thread held it.
_lock = threading.RLock()


def _new_lock() -> None:
    global _lock
    _lock = threading.RLock()


os.register_at_fork(after_in_child=_new_lock)


class LogBuffer:
    """One attempt's lines on their way to the supervisor; its threads add to it at once
    (changes under ``_lock``)."""

    def __init__(self, ship: Ship) -> None:
        self._ship = ship
        self._records: list[dict[str, Any]] = []
        self._oldest = 0.0
        #: lines written before the replay state was known, and the run they wait on
        self._held: list[dict[str, Any]] = []
        self._held_for: DurableRun | None = None

    def add(self, level: str, message: str, attributes: dict[str, Any], at: float) -> None:
        with _lock:
            self._add(level, message, attributes, at)

    def _add(self, level: str, message: str, attributes: dict[str, Any], at: float) -> None:
        run = current_run.get()
        replaying = None if run is None else run.replaying
        if replaying:
            return
        current_trace = trace_id()
        if current_trace is not None:  # correlate the log line with the attempt's span
            attributes = {**attributes, "trace_id": current_trace}
        record = {"level": level, "message": message[:10_000],
                  "attributes": _jsonable(attributes), "at": at}
        if run is not None and replaying is None:
            self._held.append(record)
            self._held_for = run
            return
        self._settle(keep_unknown=False)
        self._append(record)

    def _append(self, record: dict[str, Any]) -> None:
        if not self._records:
            self._oldest = record["at"]
        self._records.append(record)
        if len(self._records) >= _MAX_BUFFER or record["at"] - self._oldest > _MAX_AGE:
            self._flush(final=False)

    def _settle(self, keep_unknown: bool) -> None:
        """Decide on the held lines once the journal is known: they were written before
        the first durable operation, so they replayed if the journal has any entry."""
        if self._held_for is None:
            return
        replayed = self._held_for.replays(0)
        if replayed is None and not keep_unknown:
            return
        held, self._held, self._held_for = self._held, [], None
        if not replayed:
            for record in held:
                self._append(record)

    def flush(self, final: bool = False) -> None:
        """Ship what is buffered; ``final`` at the attempt's end also ships held lines
        whose replay state never became known."""
        with _lock:
            self._flush(final)

    def _flush(self, final: bool) -> None:
        if final:
            self._settle(keep_unknown=True)
        if self._records:
            records, self._records = self._records, []
            self._ship(records)


def _jsonable(attributes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        plain = isinstance(value, str | int | float | bool | type(None))
        out[key] = value if plain else repr(value)
    return out


class _StreamToLog(io.TextIOBase):
    """A text stream whose complete lines become log records; an attempt's threads write
    to it at once (its partial line is read and replaced under ``_lock``)."""

    def __init__(self, buffer: LogBuffer, level: str) -> None:
        self._buffer = buffer
        self._level = level
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with _lock:
            *lines, self._partial = (self._partial + text).split("\n")
            for line in lines:  # in order: the next writer waits for them
                self._buffer.add(self._level, line, {"source": "print"}, time.time())
        return len(text)

    def flush(self) -> None:
        with _lock:
            partial, self._partial = self._partial, ""
            if partial:
                self._buffer.add(self._level, partial, {"source": "print"}, time.time())


def _add_record(buffer: LogBuffer, record: logging.LogRecord) -> None:
    message = record.getMessage()
    if record.exc_info:
        message += "\n" + logging.Formatter().formatException(record.exc_info)
    buffer.add(record.levelname, message, {"logger": record.name}, record.created)


def _not_info(level: int) -> bool:
    """Is the root logger's ``level`` one an attempt sets to INFO while it runs (its
    lines at INFO are kept), as ``captured`` has always done?"""
    return level > logging.INFO or level == logging.NOTSET


class _Handler(logging.Handler):
    def __init__(self, buffer: LogBuffer) -> None:
        super().__init__(logging.DEBUG)
        self._buffer = buffer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _add_record(self._buffer, record)
        except Exception:  # a broken log record must never fail the task
            self.handleError(record)


def captured(buffer: LogBuffer) -> AbstractContextManager[None]:
    """Route print, logging and ``outlast.logger`` into ``buffer`` for one attempt.

    In a worker's child (``route_process``) the process's routed streams and handler
    take the attempt's output through ``_Alone``; elsewhere (``outlast.testing``, a
    deploy check) the streams and a handler are swapped in for the attempt alone."""
    if _alone_routes:
        return _Alone(buffer)
    return _swapped(buffer)


@contextmanager
def _swapped(buffer: LogBuffer) -> Iterator[None]:
    out, err = sys.stdout, sys.stderr
    stdout, stderr = _StreamToLog(buffer, "INFO"), _StreamToLog(buffer, "ERROR")
    handler = _Handler(buffer)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    if _not_info(root.level):
        root.setLevel(logging.INFO)
    token = current_sink.set(buffer.add)
    sys.stdout, sys.stderr = stdout, stderr
    try:
        yield
    finally:
        stdout.flush()
        stderr.flush()
        sys.stdout, sys.stderr = out, err
        current_sink.reset(token)
        root.removeHandler(handler)
        if root.level != old_level:  # each change clears every logger's level cache
            root.setLevel(old_level)
        buffer.flush(final=True)


class _Route:
    """Where the output of one attempt sharing its process goes. Its streams are made on
    its first ``print`` (most attempts print nothing, and up to a hundred start a second
    in one process); its log records need no handler of their own (``_RoutedHandler``)."""

    __slots__ = ("buffer", "_streams")

    def __init__(self, buffer: LogBuffer) -> None:
        self.buffer = buffer
        self._streams: dict[bool, _StreamToLog] = {}

    def stream(self, error: bool) -> _StreamToLog:
        found = self._streams.get(error)
        if found is None:  # two threads' first writes at once: both get the one kept
            found = self._streams.setdefault(
                error, _StreamToLog(self.buffer, "ERROR" if error else "INFO"))
        return found

    def flush(self) -> None:
        """The last partial line of stdout, then of stderr, as ``captured`` ends them."""
        for error in (False, True):
            self.flush_one(error)

    def flush_one(self, error: bool) -> None:
        """The partial line of stderr (``error``) or stdout, if it has one, as a line."""
        found = self._streams.get(error)
        if found is not None:
            found.flush()


#: the attempt whose output this context's writes belong to (``routed``)
_route: ContextVar[_Route | None] = ContextVar("outlast_log_route", default=None)


class _RoutedStream(io.TextIOBase):
    """``sys.stdout`` (or ``stderr``) of a process whose attempts run side by side: each
    write goes to the attempt of the context it is made in, or to the real stream."""

    def __init__(self, original: TextIO, error: bool) -> None:
        self._original = original
        self._error = error

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        route = _route.get() or _alone
        if route is None:
            return self._original.write(text)
        return route.stream(self._error).write(text)

    def flush(self) -> None:
        route = _route.get()
        if route is not None:
            return
        if _alone is None:
            self._original.flush()
        else:  # as ``captured``'s own stream: a partial line is a line of its own
            _alone.flush_one(self._error)


class _RoutedHandler(logging.Handler):
    """The root logger's handler in such a process: a record goes to its attempt."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)

    def emit(self, record: logging.LogRecord) -> None:
        route = _route.get() or _alone
        if route is None:
            if _alone_routes and _unhandled_but_here(record):
                _last_resort(record)
            return
        try:
            _add_record(route.buffer, record)
        except Exception:  # a broken log record must never fail the task
            self.handleError(record)


#: installed once per process: its root handler, stdout and stderr
_routing: list[tuple[_RoutedHandler, _RoutedStream, _RoutedStream]] = []

#: where the output of the attempt running alone in this process goes when the context
#: it is made in names none (``_Alone``): a worker's child's sync attempt, whose threads
#: write and log in contexts of their own
_alone: _Route | None = None
#: does ``captured`` use the routing (``route_process``)?
_alone_routes = False


def _install_routing() -> None:
    if _routing:
        return
    out, err = _RoutedStream(sys.stdout, error=False), _RoutedStream(sys.stderr, error=True)
    sys.stdout, sys.stderr = out, err
    handler = _RoutedHandler()
    logging.getLogger().addHandler(handler)
    _routing.append((handler, out, err))


def route_process() -> None:
    """Route this process's output for good, for a process whose only work is attempts
    (a worker's child; never ``outlast.testing``'s runs or the user's own process):
    ``captured`` then swaps nothing per attempt (a handler made, registered and removed,
    two streams made and swapped: the largest part of a sync child's own cost per run)
    but names where output goes (``_Alone``). Called once the task modules are imported,
    so what they kept of ``sys.stdout`` or ``sys.stderr`` (a ``StreamHandler``) is the
    real stream, as it is without it."""
    global _alone_routes
    _install_routing()
    _alone_routes = True


def _unhandled_but_here(record: logging.LogRecord) -> bool:
    """Did ``record`` reach no handler but the routing's own? Then Python would have given
    it to ``logging.lastResort`` had that handler not been there (a line logged while no
    attempt runs: a thread an attempt left, the child's own warnings)."""
    logger = logging.Logger.manager.loggerDict.get(record.name)
    current: logging.Logger | None = logger if isinstance(logger, logging.Logger) \
        else logging.getLogger()
    found = 0
    while current is not None:
        found += len(current.handlers)
        if not current.propagate:
            break
        current = current.parent
    return found <= 1


def _last_resort(record: logging.LogRecord) -> None:
    resort = logging.lastResort
    if resort is not None and record.levelno >= resort.level:
        resort.handle(record)


class _Alone:
    """``captured`` in a process routed for good (``route_process``): the attempt's route
    is the process's (``_alone``) while it runs, so a thread it starts (whose context
    names no route) writes and logs into its logs too, as when ``sys.stdout`` and the
    root handler were its own. What the attempt changed of the routing is put back as
    ``captured`` would: ``sys.stdout`` and ``sys.stderr`` as they were before it, the
    root logger's level, and the routing's handler if task code removed it (a
    ``basicConfig(force=True)``), for the attempts after it."""

    __slots__ = ("_buffer", "_route", "_before", "_out", "_err", "_sink", "_level")

    def __init__(self, buffer: LogBuffer) -> None:
        self._buffer = buffer

    def __enter__(self) -> None:
        global _alone
        handler, stdout, stderr = _routing[0]
        root = logging.root
        if handler not in root.handlers:
            root.addHandler(handler)
        self._level = level = root.level
        if _not_info(level):
            root.setLevel(logging.INFO)
        self._sink = current_sink.set(self._buffer.add)
        out, err = self._out, self._err = sys.stdout, sys.stderr
        if out is not stdout or err is not stderr:
            sys.stdout, sys.stderr = stdout, stderr
        self._before = _alone
        _alone = self._route = _Route(self._buffer)

    def __exit__(self, *_: object) -> None:
        global _alone
        _alone = self._before
        self._route.flush()
        if sys.stdout is not self._out or sys.stderr is not self._err:
            sys.stdout, sys.stderr = self._out, self._err
        current_sink.reset(self._sink)
        root = logging.root
        if root.level != self._level:  # each change clears every logger's level cache
            root.setLevel(self._level)
        self._buffer.flush(final=True)


class routed:  # noqa: N801 - used as the function it was: ``with routed(buffer):``
    """``captured`` for an attempt that shares its process with others at once (async
    runs on one loop): the process's streams and root handler are swapped once, for good,
    for ones that send each write to the attempt of the context it is made in, since
    swapping them per attempt would send one attempt's lines to another's logs. A class,
    not a generator: a shared child enters one per run."""

    __slots__ = ("_buffer", "_route", "_token", "_sink")

    def __init__(self, buffer: LogBuffer) -> None:
        self._buffer = buffer

    def __enter__(self) -> None:
        _install_routing()
        self._route = _Route(self._buffer)
        self._token, self._sink = _route.set(self._route), current_sink.set(self._buffer.add)

    def __exit__(self, *_: object) -> None:
        self._route.flush()
        current_sink.reset(self._sink)
        _route.reset(self._token)
        self._buffer.flush(final=True)


def keep_info_level() -> None:
    """Set the root logger to INFO once, for a process whose only work is attempts (a
    worker's child): each attempt then finds the level it needs and changes nothing, where
    setting it and back would clear every logger's level cache twice per run. Called
    before task modules import, so a level they set still wins outside attempts."""
    root = logging.getLogger()
    if _not_info(root.level):
        root.setLevel(logging.INFO)
