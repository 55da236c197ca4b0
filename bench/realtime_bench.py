"""Realtime and HTTP API benchmark (not in CI).

1. Metadata latency: a server (uvicorn, its own process) with N concurrent SSE
   subscribers to one run; the run's attempt calls ``metadata.set`` (the engine side of
   the runtime op: ``engine.realtime.update_metadata``, fenced by the lease) with the send
   time as the value; each subscriber records when the snapshot carrying it arrives.
   Reported: p50/p95/max over every (update, subscriber) pair.
2. Trigger throughput: ``POST /tasks/{id}/trigger`` through the HTTP API with an
   ``httpx.AsyncClient`` and C requests in flight, beside ``Engine.trigger`` called in
   process (one transaction per run, as the HTTP handler does). The client spends about
   3.7 ms of CPU per request, so this rate is httpx's; ``trigger_bench.py`` measures the
   server.

    .venv/bin/python bench/realtime_bench.py                       # PostgreSQL
    .venv/bin/python bench/realtime_bench.py --store sqlite
    .venv/bin/python bench/realtime_bench.py --subscribers 1000 --updates 50 --triggers 3000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from outlast.core.definitions import TaskDefinition
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun
from outlast.store import open_store

KEY = "ol_dev_bench-0123456789abcdef"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "bench_realtime"
SERVER = """
import sys, uvicorn
from outlast.engine import Engine
from outlast.server.app import create_app
from outlast.store import open_store
store = open_store(sys.argv[1])
app = create_app(Engine(store), dev_api_key=sys.argv[3], scheduler=False)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
            backlog=4096, timeout_keep_alive=60)
"""


def database(store: str) -> str:
    if store == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp(prefix='outlast-rt-bench-')}/bench.db"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DB}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, url, str(port), KEY])
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the server did not start")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


# -- 1. metadata latency ------------------------------------------------------------------


async def sse_events(base: str, path: str) -> Any:
    """Server-sent events over a bare asyncio connection (HTTP/1.1, chunked body).

    With a thousand subscribers in this one process, an HTTP client library's cost per
    event would be what is measured; this reads chunks and splits events, nothing more.
    """
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port), limit=2**20)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    try:
        status = await reader.readline()
        assert b" 200 " in status, status
        while (await reader.readline()).strip():
            pass  # headers
        buffer = b""
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            if size == 0:
                return
            buffer += await reader.readexactly(size)
            await reader.readline()  # the chunk's CRLF
            *events, buffer = buffer.split(b"\n\n")
            for raw in events:
                fields = dict(line.split(": ", 1) for line in raw.decode().split("\n")
                              if ": " in line)
                yield fields.get("event", "message"), fields.get("data", "")
    finally:
        writer.close()


async def subscriber(base: str, path: str, ready: asyncio.Event,
                     counter: list[int], total: int, out: list[float]) -> None:
    async for event, data in sse_events(base, path):
        now = time.time()
        if event != "run":
            continue
        sent = json.loads(data)["metadata"].get("sent")
        if sent is None:
            counter[0] += 1
            if counter[0] == total:
                ready.set()
        else:
            out.append((now - sent) * 1000)


async def metadata_latency(engine: Engine, base: str, subscribers: int,
                           updates: int) -> dict[str, Any]:
    run_id = engine.trigger("dev", NewRun("bench", "{}", TriggerOptions())).row["id"]
    [row] = engine.claim("dev", "bench-worker", None, 1)
    latencies: list[float] = []
    ready = asyncio.Event()
    counter = [0]
    path = f"/api/v1/runs/{run_id}/subscribe"
    tasks = [asyncio.create_task(subscriber(base, path, ready, counter, subscribers,
                                            latencies)) for _ in range(subscribers)]
    connect_started = time.monotonic()
    await asyncio.wait_for(ready.wait(), 300)
    connected_in = time.monotonic() - connect_started
    for i in range(updates):
        await asyncio.to_thread(engine.realtime.update_metadata, run_id, row["lease_id"],
                                [{"op": "set", "key": "sent", "value": time.time()},
                                 {"op": "set", "key": "i", "value": i}])
        await asyncio.sleep(0.2)
    deadline = time.monotonic() + 60
    while len(latencies) < subscribers * updates and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"subscribers": subscribers, "updates": updates, "received": len(latencies),
            "expected": subscribers * updates, "connect_all_s": round(connected_in, 2),
            "p50_ms": round(pct(latencies, 0.50), 1), "p95_ms": round(pct(latencies, 0.95), 1),
            "max_ms": round(max(latencies), 1)}


# -- 2. trigger throughput ----------------------------------------------------------------


async def http_triggers(base: str, total: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60,
                                 headers={"Authorization": f"Bearer {KEY}"}) as http:
        left = [total]

        async def loop() -> None:
            while left[0] > 0:
                left[0] -= 1
                r = await http.post("/api/v1/tasks/bench/trigger",
                                    json={"payload": {"n": left[0]}})
                assert r.status_code == 201, r.text

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        return total / (time.perf_counter() - started)


def in_process_triggers(engine: Engine, total: int) -> float:
    started = time.perf_counter()
    for n in range(total):
        engine.trigger("dev", NewRun("bench", json.dumps({"n": n}), TriggerOptions()))
    return total / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--triggers", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    url = database(args.store)
    store = open_store(url)
    store.migrate()
    engine = Engine(store)
    engine.register_tasks("dev", [TaskDefinition(id="bench", queue="bench")])
    proc, base = start_server(url)
    try:
        latency = asyncio.run(metadata_latency(engine, base, args.subscribers, args.updates))
        http_rate = asyncio.run(http_triggers(base, args.triggers, args.concurrency))
    finally:
        proc.terminate()
        proc.wait(10)
    local_rate = in_process_triggers(engine, args.triggers)
    result = {"store": args.store, "cpus": os.cpu_count(), "metadata_latency": latency,
              "http_triggers_per_s": round(http_rate), "http_concurrency": args.concurrency,
              "in_process_triggers_per_s": round(local_rate)}
    print(json.dumps(result, indent=2))
    Path(__file__).with_name("realtime_results.jsonl").open("a").write(json.dumps(result) + "\n")
    store.close()


if __name__ == "__main__":
    main()
