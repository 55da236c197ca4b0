"""What PostgreSQL and the kernel do in the background while a benchmark runs.

    .venv/bin/python bench/pg_background.py OUT.jsonl [--every 0.05] [--url URL]

Samples, until stopped (SIGTERM or Ctrl-C), one JSON line per tick: the wall clock
(``t``), the checkpointer's wait event (``CheckpointWriteDelay`` while a spread checkpoint
writes, ``CheckpointerMain`` when idle), ``pg_stat_bgwriter``'s checkpoint counts and
buffers, the autovacuum workers at work (database and query), the kernel's dirty and
writeback memory (kB) and the 1-minute load average.

Why: a phase of the peer benchmark can be a tenth of a second long (W1 bulk: 10,000 runs
at 60,000-80,000/s), so whatever the server does in the background meanwhile decides
its figure. ``outlast_peer.py`` logs each W1 bulk phase's start and end on the wall clock
(``bulk phase``, in its row's ``.err``); set them beside these samples to see what ran
under it. A timed checkpoint (every 5 minutes; it spreads its writes over most of that)
was writing during one of four def rows' bulk phases (2026-12-06): that row loaded 15%
fewer runs a second than the async row, with the checkpointer idle, a minute later.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
from typing import Any

import psycopg

_ACTIVITY = ("SELECT backend_type, datname, wait_event, query FROM pg_stat_activity "
             "WHERE backend_type IN ('checkpointer', 'autovacuum worker')")
_BGWRITER = ("SELECT checkpoints_timed, checkpoints_req, buffers_checkpoint, "
             "buffers_backend FROM pg_stat_bgwriter")


def _kernel() -> dict[str, Any]:
    """Dirty and writeback memory in kB, and the 1-minute load average."""
    out: dict[str, Any] = {}
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            key, value = line.split(":", 1)
            if key in ("Dirty", "Writeback"):
                out[key.lower()] = int(value.split()[0])
    with open("/proc/loadavg") as loadavg:
        out["load1"] = float(loadavg.read().split()[0])
    return out


def sample(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """One tick's line."""
    t = time.time()
    activity = conn.execute(_ACTIVITY).fetchall()
    bgwriter = conn.execute(_BGWRITER).fetchone()
    checkpointer = [wait for kind, _db, wait, _q in activity if kind == "checkpointer"]
    autovacuum = [[db, query] for kind, db, _wait, query in activity
                  if kind == "autovacuum worker"]
    return {"t": round(t, 3), "checkpointer": checkpointer[0] if checkpointer else None,
            "bgwriter": list(bgwriter or ()), "autovacuum": autovacuum, **_kernel()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--every", type=float, default=0.05, help="seconds between samples")
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with psycopg.connect(args.url, autocommit=True) as conn, open(args.out, "w") as out:
        while True:
            out.write(json.dumps(sample(conn)) + "\n")
            out.flush()
            time.sleep(args.every)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
