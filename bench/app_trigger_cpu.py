"""CPU per trigger through the ASGI app in process, without uvicorn or sockets (not in CI).

Splits what ``trigger_bench.py`` measures end to end: the app's own cost (Starlette, the
thread hop, the key check, the handler) against ``Engine.trigger`` alone, with C
requests in flight. ``--threads N`` overrides how many handlers run at once (the store's
``concurrency``); ``--inline`` calls handlers on the event loop, with no thread at all.

    .venv/bin/python bench/app_trigger_cpu.py --store sqlite --concurrency 50 --threads 40
    .venv/bin/python bench/app_trigger_cpu.py --store postgres --concurrency 1 --inline
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _databases import fresh_database  # noqa: E402

import outlast.server.app as app_module  # noqa: E402
from outlast.core.definitions import TaskDefinition  # noqa: E402
from outlast.core.options import TriggerOptions  # noqa: E402
from outlast.engine import Engine, NewRun  # noqa: E402
from outlast.store import open_store  # noqa: E402

PATH = "/api/v1/tasks/bench/trigger"


async def one(app: Any, key: str, n: int) -> None:
    body = json.dumps({"payload": {"n": n}}).encode()
    headers = [(b"host", b"bench"), (b"authorization", f"Bearer {key}".encode()),
               (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": PATH, "raw_path": PATH.encode(),
             "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2)}
    sent: list[int] = []
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            await asyncio.Event().wait()  # the request is over; nobody disconnects
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent.append(message["status"])

    await app(scope, receive, send)
    assert sent == [201], sent


async def through_app(app: Any, key: str, total: int, concurrency: int) -> float:
    """CPU ms per request (every thread of this process)."""
    left = [total]

    async def loop() -> None:
        while left[0] > 0:
            left[0] -= 1
            await one(app, key, left[0])

    started = time.process_time()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return (time.process_time() - started) * 1000 / total


def in_process(engine: Engine, total: int) -> float:
    started = time.process_time()
    for n in range(total):
        engine.trigger("prod", NewRun("bench", json.dumps({"n": n}), TriggerOptions()))
    return (time.process_time() - started) * 1000 / total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["postgres", "sqlite"], default="sqlite")
    parser.add_argument("--triggers", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--threads", type=int, help="handlers at once (default: the store's)")
    parser.add_argument("--inline", action="store_true", help="handlers on the event loop")
    args = parser.parse_args()
    with fresh_database(args.store, "bench_app_trigger") as url:
        store = open_store(url)
        store.migrate()
        if args.threads:
            store.concurrency = args.threads
        engine = Engine(store)
        engine.register_tasks("prod", [TaskDefinition(id="bench", queue="bench")])
        key = engine.create_api_key("prod")
        if args.inline:
            async def run(fn: Any, *fn_args: Any) -> Any:
                return fn(*fn_args)

            app_module.HandlerThreads.run = lambda self, fn, *a: run(fn, *a)  # type: ignore
        app = app_module.create_app(engine, scheduler=False)
        asyncio.run(through_app(app, key, 300, args.concurrency))  # warm-up
        app_ms = asyncio.run(through_app(app, key, args.triggers, args.concurrency))
        engine_ms = in_process(engine, args.triggers)
        print(json.dumps({"store": args.store, "concurrency": args.concurrency,
                          "threads": "inline" if args.inline else store.concurrency,
                          "app_cpu_ms": round(app_ms, 3), "engine_cpu_ms": round(engine_ms, 3)}))
        store.close()


if __name__ == "__main__":
    main()
