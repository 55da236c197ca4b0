"""The client's own layers of ``batch_trigger`` (SDK, ``LocalApi``, the API's checks per item,
``NewRun``s, the engine's rows) without a database: the engine is a stand-in whose
``trigger_batch`` makes each run's row (``RowMaker``) and nothing else. CPU per item, the best
and the median of seven rounds of 50 batches of 1,000 ``{"payload": None}``.

    .venv/bin/python bench/batch_client_layers.py SRC [--engine]   (old and new in turn)

``--engine``: the stand-in runs the engine's own ``trigger_many`` on a transaction that
sends nothing: its load writes the rows as PostgreSQL's ``COPY`` text (``CopyIn.text``) and
drops them, its statements and notes are dropped: the client's whole share of a bulk trigger
but psycopg's and libpq's.
"""

from __future__ import annotations

import sys
import time
from typing import Any

sys.path.insert(0, sys.argv[1])

from outlast.core.definitions import TaskDefinition  # noqa: E402
from outlast.engine.triggering import RowMaker, Triggered  # noqa: E402
from outlast.sdk.client import Client  # noqa: E402
from outlast.sdk.transports import LocalTransport  # noqa: E402

NOOP = TaskDefinition(id="noop", queue="default")


class Clock:
    now = staticmethod(time.time)


class StandIn:
    """What the API asks of an engine for a batch: a definition, and the batch's rows."""

    clock = Clock

    def definition(self, env: str, task_id: str, tx: Any = None) -> TaskDefinition:
        return NOOP

    def trigger_batch(self, env: str, runs: Any) -> list[Triggered]:
        maker = RowMaker(env, time.time())
        requests = runs.requests() if hasattr(runs, "requests") else runs
        return [Triggered(maker.row(self.definition(env, r.task_id), r), True)
                for r in requests]


class SilentTx:
    """A PostgreSQL transaction's client side that sends nothing (``--engine``)."""

    compound_writes = True

    def __init__(self) -> None:
        from outlast.store.postgres.store import copy_in
        from outlast.store.queries import load_queries

        text = load_queries("postgres")["load_runs"]
        self._copy = copy_in("\n".join(line for line in text.splitlines()
                                        if not line.startswith("--")))

    def load(self, name: str, rows: Any, alike: bool = False) -> None:
        for _ in (self._copy.text(rows, alike=True) if alike else self._copy.text(rows)):
            pass  # (a tree from before ``alike`` never passes it)

    def many(self, name: str, rows: Any) -> None:
        pass

    def notify(self, channel: str, payload: str = "") -> None:
        pass


class EngineStandIn(StandIn):
    def trigger_batch(self, env: str, runs: Any) -> list[Triggered]:
        from outlast.engine import triggering

        plain = getattr(triggering, "PlainBatch", None)  # made as it is written, where it is
        if plain is not None and isinstance(runs, plain):
            return triggering.trigger_plain(SilentTx(), env, NOOP, runs,  # type: ignore[arg-type]
                                            time.time())
        return triggering.trigger_many(SilentTx(), env,  # type: ignore[arg-type]
                                       [(NOOP, r) for r in runs], time.time())


def main() -> None:
    engine = EngineStandIn() if "--engine" in sys.argv else StandIn()
    client = Client(transport=LocalTransport(engine, "bulk"))
    items = [{"payload": None}] * 1000
    for _ in range(20):
        client.tasks.batch_trigger("noop", items)
    rounds = []
    for _ in range(7):
        start = time.process_time()
        for _ in range(50):
            client.tasks.batch_trigger("noop", items)
        rounds.append((time.process_time() - start) / 50_000 * 1e6)
    print(f"{sys.argv[1]}: best {min(rounds):.3f} us an item, median {sorted(rounds)[3]:.3f}")


if __name__ == "__main__":
    main()
