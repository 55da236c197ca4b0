"""Triggering over HTTP beside triggering in process (not in CI).

Each round starts a real ``outlast server --no-scheduler`` process on a fresh port,
sends ``WARMUP`` triggers it does not count, then ``--triggers`` more with
``--concurrency`` requests in flight (``POST /api/v1/tasks/bench/trigger`` with a bearer
API key, each answered 201 only after its run is committed), and stops it. The same
round then calls ``Engine.trigger`` in this process ``--triggers`` times, one
transaction each, which is what the HTTP handler does once per request.

The client is a few lines of asyncio over keep-alive connections, not httpx: on two
cores the client shares the machine with the server, and an ``httpx.AsyncClient`` with 50
requests in flight spent 3.7 ms of CPU per request here, five times the server's whole
path, so it measured itself (``realtime_bench.py``'s 184 triggers/s was that limit).
This client's CPU per request is reported (``client_cpu_ms``, about 0.08 ms) beside the
server's, read from ``/proc`` (``server_cpu_ms``): on a shared machine the CPU per
request moves less than the rate does.

``--variant`` adds servers that take turns with the current one in every round, so
they share the machine's load: ``NAME:src=DIR`` runs the package in ``DIR`` (say ``git
archive HEAD~3 src | tar -x -C /tmp/before`` and ``src=/tmp/before/src``),
``hide=uvloop+httptools`` makes those modules fail to import in that server (as if not
installed), ``args=--access-log`` passes flags to ``outlast server``. ``--profile FILE``
runs the first round's current server under py-spy (``pip install -e '.[bench]'``) and
writes collapsed stacks to FILE; ``--top`` prints the hottest frames, ``--gil`` samples
only the thread holding the GIL.

    .venv/bin/python bench/trigger_bench.py --store sqlite --rounds 3
    .venv/bin/python bench/trigger_bench.py --store postgres --rounds 4 \
        --variant "before:src=/tmp/before/src,hide=uvloop+httptools"
    .venv/bin/python bench/trigger_bench.py --store sqlite --profile /tmp/srv.txt --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _databases import fresh_database  # noqa: E402

from outlast.core.definitions import TaskDefinition  # noqa: E402
from outlast.core.options import TriggerOptions  # noqa: E402
from outlast.engine import Engine, NewRun  # noqa: E402
from outlast.store import open_store  # noqa: E402

ENV = "prod"
WARMUP = 300
RESULTS = Path(__file__).with_name("trigger_results.jsonl")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Variant:
    """One server to measure: its source tree, modules it must not see, extra flags."""

    name: str
    src: str | None = None
    hide: tuple[str, ...] = ()
    args: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, text: str) -> Variant:
        name, _, rest = text.partition(":")
        opts = dict(part.split("=", 1) for part in rest.split(",") if part)
        src = str(Path(opts["src"]).resolve()) if "src" in opts else None
        return cls(name, src, tuple(filter(None, opts.get("hide", "").split("+"))),
                   tuple(opts.get("args", "").split()))

    def pythonpath(self) -> str | None:
        """``src`` behind a folder of stand-ins that refuse to import the hidden modules."""
        paths = [self.src] if self.src else []
        if self.hide:
            stubs = Path(tempfile.mkdtemp(prefix="outlast-bench-hide-"))
            for module in self.hide:
                (stubs / f"{module}.py").write_text(
                    f"raise ImportError('{module} is hidden by trigger_bench')\n")
            paths.insert(0, str(stubs))
        return os.pathsep.join(paths) or None


def server_command(url: str, port: int, variant: Variant, profile: str | None,
                   gil: bool) -> list[str]:
    cmd = [sys.executable, "-m", "outlast.cli.main", "server", "--no-scheduler",
           "--port", str(port), "--database-url", url, *variant.args]
    if profile:
        spy = [str(Path(sys.executable).with_name("py-spy")), "record", "--format", "raw",
               "--rate", "250", "--nonblocking", "--output", profile]
        # --gil: only the thread holding the GIL, i.e. where one core's Python time goes
        return [*spy, *(["--gil"] if gil else []), "--", *cmd]
    return cmd


def start_server(url: str, variant: Variant, profile: str | None, gil: bool,
                 log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """The server as its own process group."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OUTLAST_") and k != "PYTHONPATH"}
    pythonpath = variant.pythonpath()
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    port = free_port()
    proc = subprocess.Popen(server_command(url, port, variant, profile, gil), env=env,
                            cwd=tempfile.gettempdir(), stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited; see {log}") from None
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"the server did not start; see {log}")


def server_pid(proc: subprocess.Popen[bytes], profile: str | None) -> int:
    """The Python server's pid (under py-spy, the child of the py-spy process)."""
    if not profile:
        return proc.pid
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    return int(children[0])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the client -----------------------------------------------------------------------


def request_bytes(port: int, key: str, n: int) -> bytes:
    body = json.dumps({"payload": {"n": n}}).encode()
    head = (f"POST /api/v1/tasks/bench/trigger HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def one_connection(port: int, key: str, left: list[int]) -> None:
    """Send triggers one after another on one keep-alive connection until none are left."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while left[0] > 0:
            left[0] -= 1
            writer.write(request_bytes(port, key, left[0]))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            if status != 201:
                raise SystemExit(f"trigger answered {status}: {body!r}")
    finally:
        writer.close()


async def http_triggers(port: int, key: str, total: int, concurrency: int) -> float:
    left = [total]
    started = time.perf_counter()
    await asyncio.gather(*(one_connection(port, key, left) for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


def http_round(url: str, key: str, args: argparse.Namespace, variant: Variant,
               profile: str | None, log: Path) -> dict[str, Any]:
    proc, port = start_server(url, variant, profile, args.gil, log)
    try:
        asyncio.run(http_triggers(port, key, WARMUP, args.concurrency))
        pid = server_pid(proc, profile)
        cpu0, client0 = cpu_seconds(pid), time.process_time()
        rate = asyncio.run(http_triggers(port, key, args.triggers, args.concurrency))
        server_cpu = cpu_seconds(pid) - cpu0
        client_cpu = time.process_time() - client0
    finally:
        os.killpg(proc.pid, 2)  # SIGINT: py-spy writes its profile, the server drains
        proc.wait(30)
    return {"http_per_s": round(rate),
            "server_cpu_ms": round(server_cpu * 1000 / args.triggers, 3),
            "client_cpu_ms": round(client_cpu * 1000 / args.triggers, 3)}


def in_process(engine: Engine, total: int) -> float:
    started = time.perf_counter()
    for n in range(total):
        engine.trigger(ENV, NewRun("bench", json.dumps({"n": n}), TriggerOptions()))
    return total / (time.perf_counter() - started)


# -- profile summary ------------------------------------------------------------------


def top_frames(path: str, limit: int = 40) -> None:
    """Self and inclusive sample shares of the hottest frames in py-spy's raw output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        # "fn (file.py:123)" → "fn (file.py)": lines of one function count together
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        n = int(count)
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    print(f"{total} samples; self %, then inclusive %")
    for frame, n in own.most_common(limit):
        print(f"  self {100 * n / total:5.1f}%  {frame}")
    for frame, n in inclusive.most_common(limit):
        print(f"  incl {100 * n / total:5.1f}%  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", choices=["postgres", "sqlite"], default="sqlite")
    parser.add_argument("--triggers", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", action="append", default=[], type=Variant.parse,
                        help="NAME:src=DIR,hide=MOD+MOD,args=FLAGS (repeatable)")
    parser.add_argument("--profile", help="py-spy raw output of the first round's server")
    parser.add_argument("--gil", action="store_true",
                        help="profile only the thread holding the GIL (CPU, not waits)")
    parser.add_argument("--top", action="store_true", help="print the profile's hottest frames")
    args = parser.parse_args()
    if args.profile and not shutil.which("py-spy", path=str(Path(sys.executable).parent)):
        raise SystemExit("py-spy is missing: pip install -e '.[bench]'")
    log = Path(tempfile.gettempdir()) / "outlast-trigger-bench-server.log"
    with fresh_database(args.store, "bench_trigger") as url:
        store = open_store(url)
        store.migrate()
        engine = Engine(store)
        engine.register_tasks(ENV, [TaskDefinition(id="bench", queue="bench")])
        key = engine.create_api_key(ENV)
        variants = [*args.variant, Variant("current")]
        for i in range(args.rounds):
            for variant in variants:
                profile = args.profile if i == 0 and variant.name == "current" else None
                result = {"store": args.store, "round": i + 1, "server": variant.name,
                          "concurrency": args.concurrency, "triggers": args.triggers,
                          **http_round(url, key, args, variant, profile, log)}
                result["in_process_per_s"] = round(in_process(engine, args.triggers))
                result["ratio"] = round(result["http_per_s"] / result["in_process_per_s"], 3)
                print(json.dumps(result), flush=True)
                with RESULTS.open("a") as fh:
                    fh.write(json.dumps({"date": time.strftime("%Y-%m-%d"), **result}) + "\n")
        store.close()
    if args.profile and args.top:
        top_frames(args.profile)


if __name__ == "__main__":
    main()
