"""A worker's pass: the transaction that claims what is next, and on SQLite records what
ended with it.

On PostgreSQL the ends are not in the pass: the worker's end writer (``end_writer.py``)
writes them on a connection of its own while passes claim, so a claim never waits for a
commit of ends. SQLite takes one writer at a time (``Store.serial_writes``): there a
pass records the ends that arrived and claims in one transaction, which is also one flush
to disk. Either way a claim commits lazily and ends are flushed before their commit
returns (``Engine.record_and_claim``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from outlast.engine import Engine, Outcome
from outlast.engine.dequeue import Claimed


@dataclass(frozen=True)
class PassAnswer:
    """What a pass did: ``claimed`` the runs it started; its ends (if it had any) were
    written with them. A pass that fails raises instead (``DatabaseTurn.result``), and
    its ends go back to the worker's pending outcomes."""

    claimed: Claimed


#: (outcomes, environment, worker id, queues, capacity, worker code): ``record_and_claim``'s
PassArgs = tuple[list[Outcome], str, str, "list[str] | None", int, Any]


def pass_work(engine: Engine, args: PassArgs) -> Callable[[], PassAnswer]:
    """The pass for ``args``, to run on the database turn's thread."""
    return lambda: PassAnswer(engine.record_and_claim(*args)[1])
