"""The client's own layers of ``batch_trigger`` (SDK, ``LocalApi``, the API's checks per item,
``NewRun``s, the engine's rows) without a database: the engine is a stand-in whose
``trigger_batch`` makes each run's row (``RowMaker``) and nothing else. CPU per item, the best
and the median of seven rounds of 50 batches of 1,000 ``{"payload": None}``.

    .venv/bin/python bench/batch_client_layers.py SRC   (run old and new in turn)
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

    def trigger_batch(self, env: str, runs: list[Any]) -> list[Triggered]:
        maker = RowMaker(env, time.time())
        return [Triggered(maker.row(self.definition(env, r.task_id), r), True) for r in runs]


def main() -> None:
    client = Client(transport=LocalTransport(StandIn(), "bulk"))
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
