"""Benchmark tasks: the same job bodies every peer runs (``common.mark`` / ``mark_lat``).

Imported by the worker's children (as ``tasks.bench_tasks``) and by the harness, which
registers the definitions so runs can be triggered before any worker has started.
``OUTLAST_BENCH_ASYNC=1`` makes them ``async def``, as pgqueuer's are: their runs then run
as coroutines sharing a child (``--async-slots``), not one process each.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for _peers

from _peers import load_common  # noqa: E402

from outlast import task  # noqa: E402

C = load_common()


if os.environ.get("OUTLAST_BENCH_ASYNC") == "1":  # as pgqueuer's: coroutines sharing a child

    @task(id="noop")
    async def noop(payload: object) -> None:
        C.mark()

    @task(id="lat")
    async def lat(payload: float) -> None:
        C.mark_lat(payload)

else:

    @task(id="noop")
    def noop(payload: object) -> None:  # type: ignore[misc]
        C.mark()

    @task(id="lat")
    def lat(payload: float) -> None:  # type: ignore[misc]
        C.mark_lat(payload)
