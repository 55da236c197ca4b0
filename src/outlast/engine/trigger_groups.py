"""Concurrent triggers share a transaction (group commit).

A trigger's transaction costs mostly the same whatever it holds: the round trips of its
start and commit, the commit's flush to disk, the store's bookkeeping. When several
threads trigger at once (an HTTP server's handlers, an application's threads), a few
transactions per environment are written at a time (``LANES``); the triggers that arrive
while all of them are busy wait, and the first of them then writes all that waited in
one transaction (``trigger_many``, as a batch is). Nobody waits on purpose: a trigger with a
free lane is written at once, as before, and a group is whatever arrived meanwhile (at
most ``MAX_BATCH``). Several lanes keep one slow write (a row another transaction holds
locked, a large payload going to the blob store) from holding up every other trigger.

Each trigger still meets only its own error. A group that fails as a whole for a reason
of one of its triggers (a payload that is not valid, a version that cannot run, a
deadlock the server rolled back) did not commit, and is written again one by one. A
lost connection is every member's: their transaction may have committed before its
answer was lost, and a second try could create their runs twice, so each caller decides,
as a caller alone would.

A caller interrupted while it waits (Ctrl-C, a signal handler's exception) leaves the
queue, or, when it was already picked to write the next group, writes it before the
interruption goes on: the others are never left waiting for it.
"""

from __future__ import annotations

import copy
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from outlast.engine.triggering import MAX_BATCH, Triggered
from outlast.errors import OutlastError
from outlast.store.faults import is_transient, rolled_back

#: what a caller triggers (the engine's: a task's definition and the new run); the groups
#: only pass it on to ``write``
R = TypeVar("R")
Write = Callable[[str, list[R]], list[Triggered]]

#: transactions of triggers written at a time per environment and process
LANES = 4


class _NeverWaits:
    """The ``done`` of a caller that writes its own trigger: nobody waits on it."""

    def set(self) -> None:
        pass

    def wait(self, timeout: float | None = None) -> bool:
        return True


_NEVER_WAITS = _NeverWaits()


class _Trigger(Generic[R]):
    """One caller's trigger, and its answer once its group is written."""

    def __init__(self, request: R, waits: bool) -> None:
        self.request = request
        #: set when its group is written (or it is picked to write one); only a caller
        #: that waits needs one, and most triggers never wait
        self.done = threading.Event() if waits else _NEVER_WAITS
        #: set when this caller is woken to write the group that waited
        self.group: list[_Trigger[R]] | None = None
        self.triggered: Triggered | None = None
        self.error: BaseException | None = None

    @property
    def answered(self) -> bool:
        return self.triggered is not None or self.error is not None

    def answer(self) -> Triggered:
        if self.error is not None:
            raise self.error
        if self.triggered is None:
            raise OutlastError("the trigger was not written: the thread writing it was "
                               "interrupted")
        return self.triggered


class TriggerGroups(Generic[R]):
    """The triggers of each environment, written a few groups at a time."""

    def __init__(self, write: Write[R]) -> None:
        self._write = write
        self._reset()
        _ALL.add(self)

    def _reset(self) -> None:
        """Empty state, with a lock of its own: a process forked while another thread
        held the lock or wrote a group starts afresh (``_reset_after_fork``)."""
        self._lock = threading.Lock()
        self._writing: dict[str, int] = {}  # environment → groups being written
        self._waiting: dict[str, list[_Trigger[R]]] = {}

    def trigger(self, env: str, request: R) -> Triggered:
        with self._lock:
            writing = self._writing.get(env, 0)
            leads = writing < LANES
            if leads:
                self._writing[env] = writing + 1
            else:
                me = _Trigger(request, waits=True)
                self._waiting.setdefault(env, []).append(me)
        if leads:  # a group of one, its own: what ``_lead`` does for it, spelled out
            try:
                return self._write(env, [request])[0]
            finally:
                self._hand_on(env)
        self._wait(env, me)
        return me.answer()

    def _wait(self, env: str, me: _Trigger[R]) -> None:
        try:
            me.done.wait()
        except BaseException:
            with self._lock:
                queue = self._waiting.get(env, [])
                if me in queue:  # not picked yet: nobody counts on this caller
                    queue.remove(me)
                    raise
            self._finish_picked(env, me)
            raise
        if me.group is not None:  # the group that waited is this caller's to write
            self._lead(env, me.group)

    def _finish_picked(self, env: str, me: _Trigger[R]) -> None:
        """An interrupted caller that was already picked: its group is written (by it, if
        it was picked to write it) before its interruption goes on."""
        while True:
            try:
                me.done.wait()
                if me.group is not None:
                    self._lead(env, me.group)
                return
            except BaseException:  # noqa: BLE001, S112 - the first interruption is raised
                continue

    def _lead(self, env: str, group: list[_Trigger[R]]) -> None:
        """Write ``group``, answer its members, then wake the next group's first."""
        try:
            self._write_group(env, group)
        finally:
            for member in group:
                if not member.answered:
                    member.error = OutlastError(
                        "the trigger was not written: the thread writing its group was "
                        "interrupted")
            for member in group[1:]:
                member.done.set()
            self._hand_on(env)

    def _write_group(self, env: str, group: list[_Trigger[R]]) -> None:
        try:
            answers = self._write(env, [t.request for t in group])
        except Exception as exc:
            if len(group) == 1 or (is_transient(exc) and not rolled_back(exc)):
                group[0].error = exc
                for member in group[1:]:
                    member.error = _own_copy(exc)
                return
            for member in group:  # it did not commit: each alone, to meet its own error
                self._write_alone(env, member)
            return
        for member, triggered in zip(group, answers, strict=True):
            member.triggered = triggered

    def _write_alone(self, env: str, member: _Trigger[R]) -> None:
        try:
            member.triggered = self._write(env, [member.request])[0]
        except Exception as exc:
            member.error = exc

    def _hand_on(self, env: str) -> None:
        with self._lock:
            waiting = self._waiting.pop(env, [])
            if not waiting:
                self._writing[env] -= 1
                if not self._writing[env]:
                    del self._writing[env]
                return
            group, rest = waiting[:MAX_BATCH], waiting[MAX_BATCH:]
            if rest:
                self._waiting[env] = rest
        group[0].group = group
        group[0].done.set()


#: every instance, each reset in a forked child (rather than each trigger asking whether
#: its process is still the one that made it: a system call per trigger)
_ALL: weakref.WeakSet[TriggerGroups[Any]] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for groups in list(_ALL):
        groups._reset()


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_reset_after_fork)


def _own_copy(exc: Exception) -> BaseException:
    """A copy of ``exc`` for another caller's thread to raise (one exception object
    raised in several threads would mix their tracebacks); caused by the original."""
    try:
        clone = copy.copy(exc)
    except Exception:  # noqa: BLE001 - an exception that cannot be copied is shared
        return exc
    clone.__cause__ = exc
    return clone
