"""``streams``: ordered JSON chunks a running task writes for readers to follow live.

    from outlast import streams

    for token in llm.generate(prompt):
        streams.append("llm", token)
    streams.pipe("llm", llm.generate(prompt))               # the same, for an iterable
    await streams.pipe_async("llm", llm.agenerate(prompt))   # an async iterable

Readers use ``runs.stream(run_id, "llm")``; one who joins late still gets every chunk
from the first. Chunks are buffered in the task's process and written in batches (every
500 chunks, 256 KB or 50 ms, whichever comes first, and when the attempt ends), so a
stream of ten thousand small chunks costs a few dozen writes. Chunks written by an
attempt that later fails stay in the stream; a retry appends after them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterable, Iterable
from typing import Any
from weakref import WeakKeyDictionary

from outlast.core.durable_requests import AppendStream
from outlast.jsonutil import dumps
from outlast.sdk.durable import DurableRun, HandBack, active

log = logging.getLogger("outlast.streams")

MAX_CHUNKS = 500
MAX_BYTES = 256 * 1024
MAX_DELAY = 0.05


class _Writer:
    """One attempt's buffered chunks; flushed by size, by a timer, and at the end."""

    def __init__(self, run: DurableRun) -> None:
        self.run = run
        self._pending: dict[str, list[Any]] = {}
        self._count = 0
        self._bytes = 0
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one batch at a time keeps each key in order
        self._timer: threading.Timer | None = None

    def add(self, key: str, chunk: Any) -> None:
        size = len(dumps(chunk, f"chunk of stream {key!r}"))
        with self._lock:
            self._pending.setdefault(key, []).append(chunk)
            self._count += 1
            self._bytes += size
            full = self._count >= MAX_CHUNKS or self._bytes >= MAX_BYTES
            if not full and self._timer is None:
                self._timer = threading.Timer(MAX_DELAY, self._flush_quietly)
                self._timer.daemon = True
                self._timer.start()
        if full:
            self.flush()

    def flush(self) -> None:
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, {}
                self._count = self._bytes = 0
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            for key, chunks in batch.items():
                self.run.ask(AppendStream(self.run.run_id, self.run.lease_id, key, chunks))

    def _flush_quietly(self) -> None:
        try:
            self.flush()
        except (Exception, HandBack) as exc:  # a timer thread: the attempt's next flush
            # (or its end) reports it too, and meets the same database if it is still away
            log.debug("stream flush failed: %s", exc)


_writers: WeakKeyDictionary[DurableRun, _Writer] = WeakKeyDictionary()
_writers_lock = threading.Lock()


def _writer(what: str) -> _Writer:
    run = active(f"streams.{what}")
    with _writers_lock:
        writer = _writers.get(run)
        if writer is None:
            writer = _writers[run] = _Writer(run)
    return writer


def finish(run: DurableRun) -> None:
    """Write what the attempt still buffers (called by the executor when it ends)."""
    if not _writers:  # no attempt of this process wrote to a stream: most never do
        return
    with _writers_lock:
        writer = _writers.pop(run, None)
    if writer is not None:
        writer.flush()


class _Streams:
    """The running task's output streams (see the module docstring)."""

    def append(self, key: str, chunk: Any) -> None:
        _writer("append").add(key, chunk)

    def pipe(self, key: str, iterable: Iterable[Any]) -> list[Any]:
        """Append every item of ``iterable``; returns the items once it is exhausted."""
        writer = _writer("pipe")
        items = []
        for item in iterable:
            writer.add(key, item)
            items.append(item)
        writer.flush()
        return items

    async def pipe_async(self, key: str, iterable: AsyncIterable[Any]) -> list[Any]:
        writer = _writer("pipe_async")
        items = []
        async for item in iterable:
            writer.add(key, item)
            items.append(item)
        writer.flush()
        return items

    def flush(self) -> None:
        """Write buffered chunks now rather than within 50 ms."""
        _writer("flush").flush()


streams = _Streams()
