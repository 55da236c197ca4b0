"""Fill a database with a million runs fast, in plain SQL (bench only).

Going through the engine (``trigger_batch``, claim, record) would take most of an hour for
a million runs; the dashboard only reads them, so rows shaped like the engine's are written
directly: created evenly over the last 30 days (ids sort by the same time, as ``new_id``'s
do), 12 tasks each on its own queue, statuses as an old environment has them (most final,
the newest few hundred queued or executing), five versions, two tags a run, an
idempotency key on every fifth run and a payload with a user and an e-mail address.
PostgreSQL gets the rows by ``COPY``, SQLite by ``executemany``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import psycopg

ENV = "dev"
TASKS = [f"task-{i:02d}" for i in range(12)]
DAYS = 30
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
#: final statuses of older runs, by weight
FINAL = [("COMPLETED", 880), ("FAILED", 60), ("CANCELED", 30), ("CRASHED", 15),
         ("TIMED_OUT", 10), ("EXPIRED", 5)]
#: the newest runs are still moving
LIVE = ["QUEUED", "QUEUED", "EXECUTING", "WAITING", "DELAYED"]
LIVE_RUNS = 600
COLUMNS = ("id", "environment", "task_id", "queue", "status", "payload", "tags",
           "idempotency_key", "attempt_count", "max_attempts", "retry", "machine",
           "available_at", "execution_seconds", "cost", "created_at", "queued_at",
           "started_at", "finished_at", "updated_at", "version", "error")


def encode(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def run_rows(count: int, now: float) -> Iterator[tuple[Any, ...]]:
    """``count`` runs, oldest first, as tuples in ``COLUMNS`` order."""
    rng = random.Random(15)
    statuses, weights = zip(*FINAL, strict=True)
    start, step = now - DAYS * 86400, DAYS * 86400 / count
    for i in range(count):
        created = start + i * step
        live = i >= count - LIVE_RUNS
        status = LIVE[i % len(LIVE)] if live else rng.choices(statuses, weights)[0]
        started = None if status in ("QUEUED", "DELAYED") else created + 0.4
        seconds = 0.05 * (i % 40)
        finished = None if live else (started or created) + seconds
        task = TASKS[i % len(TASKS)]
        yield (f"run_{encode(int(created * 1000), 10)}{encode(rng.getrandbits(80), 16)}",
               ENV, task, task, status,
               json.dumps({"n": i, "user": f"u{i % 500}",
                           "email": f"person{i % 20000}@example.com"}),
               json.dumps([f"user:{i % 500}", "plan:pro" if i % 10 == 0 else "plan:free"]),
               f"order-{i}" if i % 5 == 0 else None,
               0 if started is None else 1, 3, '{"max_attempts": 3}', "small-1x",
               created, seconds, seconds * 0.0001, created, created, started, finished,
               finished or created,
               None if started is None else f"2026120{1 + i * 5 // count}.1",
               json.dumps({"type": "ValueError", "message": f"no price for item {i % 97}"})
               if status == "FAILED" else None)


def tag_rows(run: tuple[Any, ...]) -> list[tuple[str, str, str]]:
    return [(run[0], ENV, tag) for tag in json.loads(run[6])]


def fill(url: str, count: int, now: float) -> None:
    if url.startswith("sqlite"):
        fill_sqlite(url.split("sqlite:///", 1)[1], count, now)
    else:
        fill_postgres(url, count, now)


def fill_sqlite(path: str, count: int, now: float) -> None:
    import sqlite3

    conn = sqlite3.connect(path)
    marks = ", ".join("?" for _ in COLUMNS)
    batch: list[tuple[Any, ...]] = []
    for run in run_rows(count, now):
        batch.append(run)
        if len(batch) == 20_000:
            _sqlite_batch(conn, batch, marks)
            batch = []
    _sqlite_batch(conn, batch, marks)
    conn.close()


def _sqlite_batch(conn: Any, batch: list[tuple[Any, ...]], marks: str) -> None:
    conn.executemany(f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({marks})", batch)
    conn.executemany("INSERT INTO run_tags (run_id, environment, tag) VALUES (?, ?, ?)",
                     [t for run in batch for t in tag_rows(run)])
    conn.commit()


def fill_postgres(url: str, count: int, now: float) -> None:
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY runs ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for run in run_rows(count, now):
                    copy.write_row(run)
            with cur.copy("COPY run_tags (run_id, environment, tag) FROM STDIN") as copy:
                for run in run_rows(count, now):
                    for tag in tag_rows(run):
                        copy.write_row(tag)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE runs")
        conn.execute("VACUUM ANALYZE run_tags")

