"""Old and new code in alternating rounds of one benchmark command, on one machine.

    .venv/bin/python bench/ab_rounds.py --old /tmp/main/src --rounds 4 --out ab.jsonl \\
        --env CPU_PG_DB=bench_x_{variant} --env BENCH_DIR=/tmp/x_{variant} \\
        -- .venv/bin/python bench/cpu_per_run.py pg

Runs the command after ``--`` 2 × ``--rounds`` times, A B B A A B ... (each pair starts with
the other variant, so a neighbour's load that grows or fades over the minutes weighs on
both), with ``PYTHONPATH`` set to ``--old`` (a source tree of the old code: ``git archive
main | tar -x -C /tmp/main``) or ``--new`` (default: this checkout's ``src``). ``{variant}``
in an ``--env`` value becomes ``old`` or ``new``, so each variant keeps its own database
and files. The last line of the command's output that is a JSON object is kept, with the
variant, the round and the load average, and appended to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                found = json.loads(line)
            except ValueError:
                continue
            if isinstance(found, dict):
                return found
    return {"error": text[-800:]}


def run(command: list[str], variant: str, src: str, extra: list[str]) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=src)
    for item in extra:
        key, _, value = item.partition("=")
        env[key] = value.replace("{variant}", variant)
    started = time.time()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return last_json(done.stdout + done.stderr) | {
        "variant": variant, "wall_s": round(time.time() - started, 1),
                                     "loadavg": Path("/proc/loadavg").read_text()[:14]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", default=str(HERE.parent / "src"))
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--out", required=True)
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    for number in range(args.rounds):
        order = ("old", "new") if number % 2 == 0 else ("new", "old")
        for variant in order:
            result = run(command, variant, getattr(args, variant), args.env) | {"round": number}
            print(json.dumps(result), flush=True)
            with open(args.out, "a") as out:
                out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    sys.exit(main())
