"""The async runs a child runs at once, as tasks of its one event loop.

A child runs a sync task's attempts one at a time, each alone in the process. An async
task's run the supervisor marks ``shared`` instead: it starts at once as an asyncio task
beside the child's other shared runs (at most the worker's ``async_slots``), so runs that
spend their time awaiting (an LLM, a webhook, a database) do not each hold a process.

While shared runs are in flight the loop, not a blocking ``recv``, reads the pipe: a new
shared run starts as it arrives, a ``Cancel`` cancels one, and anything else (a sync
run, a hook job, ``Stop``) waits until the last shared run has ended, then goes back to
the child's serve loop in the order it came. The supervisor sends a child no sync run
while shared ones are in flight, so nothing overtakes anything.

What an attempt leaves running (tasks it started and never awaited) is cancelled when it
ends, as ``asyncio.run`` would have: the loop's task factory notes which attempt started
each task (``_owner``), so the runs beside it keep theirs.

Ends are reported together: the attempts that end in one turn of the loop go up the pipe
as one message, after everything each of them sent while it ran.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from multiprocessing.connection import Connection
from typing import Any, NoReturn, Protocol

from outlast.core.durable_requests import DurableRequest
from outlast.sdk.durable import RecordAhead
from outlast.sdk.registry import default_registry
from outlast.worker.async_attempt import arun_attempt
from outlast.worker.event_loop import ChildLoop
from outlast.worker.executor import error_info
from outlast.worker.limits import PooledMemory
from outlast.worker.messages import Assignment, Cancel, Finished, Reply, RuntimeCall

Send = Callable[[Any], None]
#: the run of the attempt whose code is running in this context (tasks it starts inherit
#: it): whose leftovers a task is
_owner: ContextVar[str | None] = ContextVar("outlast_shared_owner", default=None)


class Pipe(Protocol):
    """The child's pipe as task code asks through it (``child.PipeTransport``)."""

    lock: threading.Lock
    inbox: deque[Any]
    on_stash: Callable[[], None] | None

    def runtime(self, request: DurableRequest) -> Any: ...

    def next_id(self) -> int: ...

#: the attempt's ``Finished`` when it fails before it could start (its task is missing)
Missing = Callable[[Assignment], Finished | None]


class SharedRuns:
    """Runs shared attempts on ``loop`` until none is left (``run``)."""

    def __init__(self, conn: Connection, pipe: Pipe, send: Send, ahead: RecordAhead | None,
                 loop: Callable[[], asyncio.AbstractEventLoop], missing: Missing,
                 orphaned: Callable[[], NoReturn], answer_of: Callable[[Reply], Any]) -> None:
        """``loop``: the child's loop, made when first asked for; ``missing``: the report
        of a run whose task this child lacks (else None); ``orphaned``: what to do when
        the supervisor is gone (``child._orphaned``); ``answer_of``: a reply's answer, or
        its error raised (``child.answer_of``)."""
        self._conn = conn
        self._pipe = pipe
        self._lock = pipe.lock  # held by task code while it asks the supervisor
        self._inbox = pipe.inbox  # what such an ask read that was not its answer
        self._send = send
        self._runtime = pipe.runtime
        self._ahead = ahead
        self._get_loop = loop
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment] # run() sets it
        self._missing = missing
        self._orphaned = orphaned
        self._answer_of = answer_of
        #: the durable requests of shared runs sent and not yet answered, by request id
        self._asked: dict[int, asyncio.Future[Reply]] = {}
        self._tasks: dict[str, asyncio.Task[Finished]] = {}
        self._later: deque[Any] = deque()
        self._ended: list[Finished] = []
        self._idle = asyncio.Event()
        self._memory = PooledMemory()
        #: tasks each attempt started, by run id: cancelled when it ends
        self._spawned: dict[str, set[asyncio.Task[Any]]] = {}

    def run(self, first: Assignment) -> None:
        """Run ``first`` and every shared run that arrives meanwhile, until none is left;
        what came for the serve loop is then at the front of ``inbox``, in order."""
        loop = self._loop = self._get_loop()
        loop.set_task_factory(self._task_factory)  # type: ignore[arg-type] # context= too
        self._idle.clear()
        self._start(first)
        self.stashed()  # what the serve loop had not taken yet
        loop.add_reader(self._conn.fileno(), self._readable)
        self._pipe.on_stash = self._stash_seen
        try:
            while self._tasks or self._ended:
                loop.run_until_complete(self._idle.wait())
                self._idle.clear()  # a run may have started after the last one ended
        finally:
            self._pipe.on_stash = None
            loop.remove_reader(self._conn.fileno())
            ChildLoop.cancel_leftovers(loop)
            loop.set_task_factory(None)
            self._report()
            self._memory.release()
            self._inbox.extendleft(reversed(self._later))
            self._later.clear()

    def stashed(self) -> None:
        """Take what waits in ``inbox``: a thread (or an attempt's own ask) read it while
        waiting for its answer."""
        try:
            while self._inbox:
                self._take(self._inbox.popleft())
        finally:
            self._memory.apply()  # for the runs that started, before any of them runs

    def _stash_seen(self) -> None:
        """An ask (on the loop, or in a thread of task code) kept messages: take them on
        the loop's next turn."""
        self._loop.call_soon_threadsafe(self.stashed)

    def _readable(self) -> None:
        with self._lock:  # a thread asking may have read what made the pipe readable
            try:
                while self._conn.poll():
                    self._inbox.append(self._conn.recv())
            except (EOFError, OSError):  # the supervisor is gone
                self._orphaned()
        self.stashed()

    def _take(self, message: Any) -> None:
        if isinstance(message, list):
            for item in message:
                self._take(item)
        elif isinstance(message, Assignment) and message.shared and not self._later:
            self._start(message)
        elif isinstance(message, Reply):
            waiting = self._asked.pop(message.request_id, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(message)
        elif isinstance(message, Cancel):
            task = self._tasks.get(message.run_id)
            if task is not None:
                task.cancel()
        else:
            self._later.append(message)

    def _start(self, job: Assignment) -> None:
        failed = self._missing(job)
        if failed is not None:
            self._ended_with(failed)
            return
        self._memory.note(job.run["id"], job.memory_limit)  # set by ``stashed``
        attempt = self._loop.create_task(self._attempt(job))
        self._tasks[job.run["id"]] = attempt
        started = time.monotonic()
        attempt.add_done_callback(lambda done: self._done(job, done, started))

    async def _attempt(self, job: Assignment) -> Finished:
        _owner.set(job.run["id"])  # this task's context: what it starts is the attempt's
        task = default_registry.get(job.run["task_id"])
        return await arun_attempt(task, job, self._send, self._runtime, self._ahead, self.ask)

    async def ask(self, request: DurableRequest) -> Any:
        """A durable request of a shared run, its answer awaited: the loop goes on with
        the other runs until the supervisor's reply is read (``_take``). Code of the run
        on a loop of its own (a sync middleware's ``next()`` runs the rest there, in a
        helper thread) asks and waits as a lone run does."""
        if asyncio.get_running_loop() is not self._loop:
            return self._runtime(request)
        request_id = self._pipe.next_id()
        answered: asyncio.Future[Reply] = self._loop.create_future()
        self._asked[request_id] = answered
        try:
            self._send(RuntimeCall(request_id, request))
            return self._answer_of(await answered)
        finally:
            self._asked.pop(request_id, None)

    def _task_factory(self, loop: asyncio.AbstractEventLoop,
                      coro: Coroutine[Any, Any, Any], **kwargs: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, **kwargs)
        owner = _owner.get()  # the context of the code creating it
        if owner is not None:
            self._spawned.setdefault(owner, set()).add(task)
            task.add_done_callback(lambda done: self._spawned.get(owner, set()).discard(done))
        return task

    def _done(self, job: Assignment, attempt: asyncio.Task[Finished], started: float) -> None:
        for leftover in self._spawned.pop(job.run["id"], ()):
            leftover.cancel()  # unwinds on the loop's next turns
        self._tasks.pop(job.run["id"], None)
        self._memory.give(job.run["id"])
        self._ended_with(_finished(job, attempt, time.monotonic() - started))

    def _ended_with(self, finished: Finished) -> None:
        if not self._ended:  # the first of this turn: report them all at its end
            self._loop.call_soon(self._report)
        self._ended.append(finished)

    def _report(self) -> None:
        ended, self._ended = self._ended, []
        if ended:
            self._send(ended[0] if len(ended) == 1 else ended)
        if not self._tasks:
            self._idle.set()


def _finished(job: Assignment, attempt: asyncio.Task[Finished], executed: float) -> Finished:
    """The attempt's own report, or ``stopped`` when it was cancelled (the supervisor
    asked, and knows why)."""
    if attempt.cancelled():
        return Finished(job.run["id"], job.lease_id, job.attempt, "stopped", executed)
    error = attempt.exception()
    if error is None:
        return attempt.result()
    # ``arun_attempt`` classifies every way task code ends; this is a fault of its own
    return Finished(job.run["id"], job.lease_id, job.attempt, "failed", executed,
                    error=error_info(error))

