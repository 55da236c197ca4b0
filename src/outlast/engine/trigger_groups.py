"""Concurrent triggers share a transaction (group commit).

A trigger's transaction costs mostly the same whatever it holds: the round trips of its
start and commit, the commit's flush to disk, the store's bookkeeping. When several
threads trigger at once (an HTTP server's handlers, an application's threads), the
triggers that arrive while one environment's transaction is being written wait for it,
and the first of them then writes all of them in one transaction
(``Engine.trigger_batch``). Nobody waits on purpose: a trigger alone is written at once,
as before, and a group is whatever arrived meanwhile (at most ``MAX_BATCH``).

Each trigger still meets only its own error. A group that fails as a whole for a reason
of one of its triggers (a payload that is not valid, a task no worker has, a version that
cannot run) was rolled back, and is written again one by one. A database fault is every
member's: their transaction may have committed before its answer was lost, and a second
try could create their runs twice, so each caller decides, as a caller alone would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from outlast.engine.triggering import MAX_BATCH, NewRun, Triggered
from outlast.store.faults import is_transient

Write = Callable[[str, list[NewRun]], list[Triggered]]


class _Trigger:
    """One caller's trigger, and its answer once its group is written."""

    def __init__(self, request: NewRun) -> None:
        self.request = request
        self.done = threading.Event()
        #: set when this caller is woken to write the group that waited behind another
        self.group: list[_Trigger] | None = None
        self.triggered: Triggered | None = None
        self.error: BaseException | None = None

    def answer(self) -> Triggered:
        if self.error is not None:
            raise self.error
        assert self.triggered is not None
        return self.triggered


class TriggerGroups:
    """The triggers of each environment, written one group at a time."""

    def __init__(self, write: Write) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._busy: set[str] = set()  # environments with a group being written
        self._waiting: dict[str, list[_Trigger]] = {}

    def trigger(self, env: str, request: NewRun) -> Triggered:
        me = _Trigger(request)
        with self._lock:
            leads = env not in self._busy
            if leads:
                self._busy.add(env)
            else:
                self._waiting.setdefault(env, []).append(me)
        if leads:
            self._lead(env, [me])
        else:
            me.done.wait()
            if me.group is not None:  # the group that waited is this caller's to write
                self._lead(env, me.group)
        return me.answer()

    def _lead(self, env: str, group: list[_Trigger]) -> None:
        """Write ``group``, answer its members, then wake the next group's first."""
        try:
            self._write_group(env, group)
        finally:
            for member in group[1:]:
                member.done.set()
            self._hand_on(env)

    def _write_group(self, env: str, group: list[_Trigger]) -> None:
        try:
            answers = self._write(env, [t.request for t in group])
        except Exception as exc:
            if len(group) == 1 or is_transient(exc):
                for member in group:
                    member.error = exc
                return
            for member in group:  # rolled back: each alone, to meet only its own error
                self._write_alone(env, member)
            return
        except BaseException as exc:  # interrupted: nobody's trigger is known to be written
            for member in group:
                member.error = exc
            raise
        for member, triggered in zip(group, answers, strict=True):
            member.triggered = triggered

    def _write_alone(self, env: str, member: _Trigger) -> None:
        try:
            member.triggered = self._write(env, [member.request])[0]
        except Exception as exc:
            member.error = exc

    def _hand_on(self, env: str) -> None:
        with self._lock:
            waiting = self._waiting.pop(env, [])
            if not waiting:
                self._busy.discard(env)
                return
            group, rest = waiting[:MAX_BATCH], waiting[MAX_BATCH:]
            if rest:
                self._waiting[env] = rest
        group[0].group = group
        group[0].done.set()
