"""How long a SQLite writer waits for the write lock while other processes keep writing.

    .venv/bin/python bench/sqlite_busy_bench.py [--flooders 2] [--rows 200] [--probes 400]

``--flooders`` processes each write ``--rows`` rows per transaction in a loop, as a busy
worker and a client triggering batches do. A probe (the upkeep holder waking due sleeps,
say) begins one write transaction every 20 ms and times how long ``BEGIN IMMEDIATE``
took, alternating probe by probe between SQLite's own busy handler (``busy_timeout``:
sleeps of 1, 2, 5, … 100 ms between tries) and ``store/sqlite/busy.py`` (tries at most
2 ms apart), so both meet the same load. Prints p50 / p99 / max in ms per way.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sqlite3
import tempfile
import time
from pathlib import Path

from outlast.store.sqlite import busy


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={busy.BUSY_TIMEOUT_MS}")
    return conn


def flood(path: Path, rows: int, stop: multiprocessing.synchronize.Event) -> None:
    conn = connect(path)
    payload = [("x" * 200,)] * rows
    while not stop.is_set():
        conn.execute("BEGIN IMMEDIATE")  # SQLite's own handler, as before this change
        conn.executemany("INSERT INTO t (v) VALUES (?)", payload)
        conn.execute("COMMIT")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flooders", type=int, default=2)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--probes", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "busy.db"
        connect(path).execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        stop = multiprocessing.Event()
        flooders = [multiprocessing.Process(target=flood, args=(path, args.rows, stop))
                    for _ in range(args.flooders)]
        for process in flooders:
            process.start()
        probe = connect(path)
        waits: dict[str, list[float]] = {"sqlite": [], "short_steps": []}
        try:
            time.sleep(0.5)
            for i in range(args.probes):
                way = "sqlite" if i % 2 == 0 else "short_steps"
                began = time.perf_counter()
                if way == "sqlite":
                    probe.execute("BEGIN IMMEDIATE")
                else:
                    busy.begin_immediate(probe)
                waits[way].append((time.perf_counter() - began) * 1000)
                probe.execute("INSERT INTO t (v) VALUES ('probe')")
                probe.execute("COMMIT")
                time.sleep(0.02)
        finally:
            stop.set()
            for process in flooders:
                process.join(10)
    print(json.dumps({way: {"p50": round(percentile(v, 50), 2),
                            "p99": round(percentile(v, 99), 2), "max": round(max(v), 2)}
                      for way, v in waits.items()}))


if __name__ == "__main__":
    main()
