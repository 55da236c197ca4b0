"""Completed steps a child told of without waiting (``Recorded``), written behind it.

A child records a small step result by sending it and going on (``sdk.durable.RecordAhead``);
it no longer waits a supervisor pass and a commit per step. What the journal needs is
order, not a flush per step: each run's records are durable before anything the attempt
does after them is. The supervisor keeps that order by writing every record that arrived
before it writes anything else: outcomes (``Supervisor._flush``, ``_sync``) and the
durable writes that wait for an answer (their flush comes first) all call ``write``
first. Records of every attempt that arrived meanwhile share one transaction and one
flush to disk: a pass's records cost one commit, however many steps they hold.

That commit waits for its flush. Were it lazy (``synchronous_commit`` off), a database
that crashed just after it would lose the records while the worker, told they were
committed, went on: the attempt's later records and its end, written once the database
was back, would survive beside a gap in its journal, and a replay would run the missing
step again after later ones had been recorded (the fault suite saw it once in ten
PostgreSQL runs). A crash before the commit loses only records nothing written depends on:
the attempt's end was not written either, so the next attempt replays up to the last
record that was and runs the steps after it again, as steps may (they are at-least-once,
as when a process died during a step). A record's entry is dated when it is written, a
pass after the step ended.

When the write fails:

- a database fault: the records are kept and written on a later pass. One that may have
  committed (the connection dropped after ``COMMIT``) is looked for first
  (``runtime.committed``), so none is written twice.
- the attempt no longer holds its run (canceled, timed out, taken over): its records are
  dropped, as its outcome will be; the others' are written in the same transaction.
- anything else: the attempt's later records are dropped too (a journal with a gap
  would replay wrong) and its writes that wait for an answer are refused, saying which
  operation could not be recorded: the attempt fails at its next wait, child run or
  key, and is retried as any failure is. An attempt that ends without one ends as it
  said; its journal lacks those entries, which only a replay of it would have needed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from outlast.core.durable_requests import DurableRequest, Journaled, Record
from outlast.engine import Outcome
from outlast.errors import InvalidTransitionError, OutlastError
from outlast.store.faults import is_transient
from outlast.worker import runtime

if TYPE_CHECKING:
    from outlast.engine import Engine

log = logging.getLogger("outlast.worker")

Attempt = tuple[str, str]  # (run id, lease id)


class RecordsAhead:
    """The records that arrived and are not yet written, in arrival order."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.items: list[Record] = []
        #: a fault met the last write, which may have committed: look before writing
        self.unsure = False
        #: attempts whose record could not be written → why, told to their later writes
        self.failed: dict[Attempt, str] = {}

    def add(self, request: Record) -> None:
        if _attempt(request) not in self.failed:  # past a failed record nothing is written
            self.items.append(request)

    def write(self) -> None:
        """Write what arrived, in one transaction when all goes well; a database fault is
        raised and the records kept for the next try."""
        if not self.items:
            return
        if not self.unsure:
            try:
                dropped = self.engine.durable.record_held(
                    [(r.at, r.result, r.elapsed) for r in self.items])
            except Exception as exc:
                if is_transient(exc):
                    self.unsure = True
                    raise
                # rolled back: one by one, so an error is only its own attempt's
            else:
                if dropped:
                    log.debug("%d records were dropped: their attempts no longer hold "
                              "their runs", dropped)
                self.items = []
                return
        self._one_by_one()

    def _one_by_one(self) -> None:
        while self.items:
            request = self.items[0]
            try:
                self._write_one(request)
            except InvalidTransitionError:
                log.debug("a record of run %s was dropped: its attempt no longer holds it",
                          request.at.run_id)
            except Exception as exc:
                if is_transient(exc):  # it may have committed: look before writing again
                    self.unsure = True
                    raise  # the rest is kept; ``unsure`` stays until they are written
                self._fail(request, exc)
                continue
            self.items.pop(0)
        self.unsure = False

    def _write_one(self, request: Record) -> None:
        if self.unsure and runtime.committed(self.engine, request) is not None:
            return  # the try that met the fault did commit it
        self.engine.durable.record(request.at, request.result, request.elapsed)

    def _fail(self, request: Record, exc: Exception) -> None:
        at = request.at
        log.error("the result of %s %r (#%d) of run %s could not be recorded",
                  at.kind, at.name, at.seq, at.run_id, exc_info=exc)
        attempt = _attempt(request)
        self.failed[attempt] = (f"the result of {at.kind} {at.name!r} (#{at.seq}) could not "
                                f"be recorded: {type(exc).__name__}: {exc}")
        self.items = [r for r in self.items if _attempt(r) != attempt]

    def refusal(self, request: DurableRequest) -> OutlastError | None:
        """Why this journal write may not be written: an earlier record of its attempt
        failed (the journal would have a gap)."""
        if not self.failed or not isinstance(request, Journaled):
            return None
        why = self.failed.get((request.at.run_id, request.at.lease_id))
        return None if why is None else OutlastError(why)

    def ended(self, outcomes: list[Outcome]) -> None:
        """These attempts ended: nothing more of theirs will be refused."""
        if self.failed:
            for outcome in outcomes:
                self.failed.pop((outcome.run_id, outcome.lease_id), None)


def _attempt(request: Record) -> Attempt:
    return request.at.run_id, request.at.lease_id
