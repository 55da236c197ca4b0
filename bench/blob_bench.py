"""Blob store throughput: trigger → start of a run with a 10 MB payload, on each store.

For each store (SQLite with its blob directory, PostgreSQL with its ``blobs`` table,
PostgreSQL with an S3 bucket served by ``moto_server``) the engine triggers a run with a
10 MB JSON payload (the blob is written before the run's row commits) and a worker's claim
takes it (the blob is read back after the claim commits) and parses it, as a child does
before calling the task. Timed: trigger alone, claim + read alone, and the sum, trigger →
start; median of ``N`` runs each, with the same for a 1 KB payload (kept inline) beside it.
Not timed: the worker's wake-up and the pipe to its child process.

    .venv/bin/python bench/blob_bench.py [N]          # default 9; prints a Markdown table
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _databases import fresh_database  # noqa: E402

from outlast.core.definitions import TaskDefinition  # noqa: E402
from outlast.core.options import TriggerOptions  # noqa: E402
from outlast.core.settings import Settings  # noqa: E402
from outlast.engine import Engine, NewRun  # noqa: E402
from outlast.store import open_store  # noqa: E402

MB = 1024 * 1024


@contextmanager
def s3_bucket() -> Iterator[str]:
    import os

    import boto3  # type: ignore[import-untyped]

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION="us-east-1")
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                boto3.client("s3", endpoint_url=url).create_bucket(Bucket="bench")
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        yield f"s3://bench/blobs?endpoint_url={url}"
    finally:
        proc.terminate()
        proc.wait(10)


def one(engine: Engine, text: str) -> tuple[float, float]:
    """(trigger seconds, claim + read seconds) of one run whose payload is ``text``."""
    t0 = time.perf_counter()
    engine.trigger("dev", NewRun("bench", text, TriggerOptions()))
    t1 = time.perf_counter()
    [row] = engine.claim("dev", "bench-worker", None, 1)
    json.loads(row["payload"])
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def measure(engine: Engine, size: int, n: int) -> dict[str, float]:
    engine.register_tasks("dev", [TaskDefinition(id="bench", queue="bench")])
    text = json.dumps({"data": "x" * (size - 12)})
    one(engine, text)  # warm: connections, the blob pool, the directory
    samples = [one(engine, text) for _ in range(n)]
    trig = statistics.median(t for t, _ in samples)
    start = statistics.median(c for _, c in samples)
    total = statistics.median(t + c for t, c in samples)
    return {"trigger_ms": trig * 1e3, "claim_ms": start * 1e3, "total_ms": total * 1e3,
            "mb_s": len(text) / MB / total}


def run_case(store: str, blob_url: str | None, n: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with fresh_database(store, "outlast_blob_bench") as url:
        db = open_store(url)
        db.migrate()
        try:
            engine = Engine(db, settings=Settings(blob_url=blob_url))
            where = blob_url.split("?")[0] if blob_url else db.blob_store().location
            for size in (10 * MB, 1024):
                rows.append({"store": store, "blobs": "inline" if size < MB else where,
                             "size": size, **measure(engine, size, n)})
        finally:
            db.close()
    return rows


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    rows = run_case("sqlite", None, n) + run_case("postgres", None, n)
    with s3_bucket() as bucket:
        rows += run_case("postgres", bucket, n)
    print(f"median of {n}\n")
    print("| store | value kept in | payload | trigger ms | claim + read ms "
          "| trigger → start ms | MB/s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        size = f"{r['size'] / MB:.0f} MB" if r["size"] >= MB else f"{r['size']} B"
        print(f"| {r['store']} | {r['blobs']} | {size} | {r['trigger_ms']:.1f} | "
              f"{r['claim_ms']:.1f} | {r['total_ms']:.1f} | "
              f"{r['mb_s']:.0f} |" if r["size"] >= MB else
              f"| {r['store']} | {r['blobs']} | {size} | {r['trigger_ms']:.2f} | "
              f"{r['claim_ms']:.2f} | {r['total_ms']:.2f} | – |")


if __name__ == "__main__":
    main()
