"""Run the fault suite: a project, N workers, M runs, seeded faults, a drain, the checks.

``python bench/chaos.py --help`` lists the flags; ``run_suite(Options(...))`` is what the
short CI test calls. Everything the suite starts (workers, their orphans, the private
PostgreSQL cluster, the temporary directory) is removed at the end whatever happened.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.chaos import checks
from bench.chaos.cluster import PrivatePostgres
from bench.chaos.faults import FAULTS, Faults
from bench.chaos.procs import WorkerProc, processes, wait_gone

from outlast.engine import Engine
from outlast.sdk.client import Client
from outlast.store import open_store

TASKS = Path(__file__).with_name("project_tasks.py")
BIN = Path(sys.executable).parent
OUTLAST = [str(BIN / "outlast")] if (BIN / "outlast").exists() else [
    sys.executable, "-m", "outlast.cli.main"]
#: ``outlast`` without click's ``main``, which turns an exception killing the worker into a
#: silent exit 1 (BrokenPipeError) or "Aborted!" (EOFError): here it shows its traceback
TRACEBACKS = [sys.executable, "-c", "import sys; from outlast.cli.main import cli; "
              "cli.invoke(cli.make_context('outlast', sys.argv[1:]))"]


@dataclass
class Options:
    store: str = "sqlite"
    workers: int = 2
    concurrency: int = 4
    runs: int = 300
    duration: float = 60.0
    drain: float = 180.0
    seed: int = 1
    faults: list[str] = field(default_factory=lambda: list(FAULTS))
    lease: float = 2.0
    gap: tuple[float, float] = (1.0, 4.0)  # seconds between two faults
    keep: bool = False  # keep the temporary directory (logs) for a look afterwards
    tracebacks: bool = False  # run workers without click's standalone mode (see TRACEBACKS)


@dataclass
class Report:
    options: Options
    findings: checks.Findings
    applied: dict[str, int]
    skipped: dict[str, int]
    deaths: list[str]
    failed_starts: list[str]  # exited before registering (reported, not asserted)
    unclean_stops: list[str]
    orphans: int
    started: int  # workers started in all, replacements included
    enabled: list[str]  # the fault kinds this store allows (no restarts on SQLite)
    fault_log: list[str]
    seconds: float

    def failures(self) -> dict[str, int]:
        """The asserted counts; all must be 0."""
        f = self.findings
        return {"lost": len(f.lost), "stuck": len(f.stuck), "failed (platform)": len(f.failed),
                "recorded steps re-run": len(f.reruns),
                "attempts failed by platform errors": len(f.platform_failed_attempts),
                "duplicate child runs": len(f.duplicate_children),
                "outputs that disagree with the journal": len(f.wrong_outputs),
                "unexpected worker deaths": len(self.deaths),
                "unclean worker stops": len(self.unclean_stops)}

    @property
    def ok(self) -> bool:
        return not any(self.failures().values())


class Fleet:
    """The running workers; a killed or dead one is replaced by a new one."""

    def __init__(self, root: Path, env: dict[str, str], concurrency: int,
                 command: list[str]) -> None:
        self.root, self.env, self.concurrency = root, env, concurrency
        self.command = command
        self.workers: list[WorkerProc] = []
        self.retired: list[WorkerProc] = []
        self.deaths: list[str] = []
        self.failed_starts: list[str] = []
        self.count = 0

    def start(self) -> WorkerProc:
        self.count += 1
        name = f"w{self.count}"
        worker = WorkerProc(name, [*self.command, "worker", "--concurrency", str(self.concurrency),
                                   "--grace", "5"],
                            self.root, self.env, self.root / f"{name}.log")
        self.workers.append(worker)
        return worker

    def live(self) -> list[WorkerProc]:
        return [w for w in self.workers if w.alive()]

    def replace(self, worker: WorkerProc) -> None:
        self.workers.remove(worker)
        self.retired.append(worker)
        self.start()

    def supervise(self) -> None:
        """A supervisor that exited without being killed by us is a death: note, replace.

        One that exited before it registered its tasks saying the database was away failed
        to start: reported apart, as a crash loop at start-up is how a fleet manager sees
        it, not a running worker's death. Any other exit is a death.
        """
        for worker in list(self.workers):
            code = worker.process.poll()
            if code is None or worker.killed:
                continue
            line = f"{worker.name} (pid {worker.pid}) exited with {code}:\n{worker.tail()}"
            (self.failed_starts if worker.failed_start() else self.deaths).append(line)
            self.replace(worker)


class Triggerer:
    """Triggers the runs a few at a time; retries (same idempotency key) while the store is away."""

    def __init__(self, url: str, total: int) -> None:
        self.url, self.total = url, total
        self.ids: list[str] = []
        self.client: Client | None = None

    def plan(self, i: int) -> tuple[str, Any]:
        kind = i % 4
        if kind == 0:
            return "chaos-parent", {"i": i}
        if kind == 1:
            return "chaos-plain", {"i": i}
        task_id = "chaos-async" if i % 8 == 3 else "chaos-durable"
        return task_id, {"i": i, "pause": 0.1 + (i % 3) * 0.1, "suspend": i % 8 in (2, 3)}

    def more(self, upto: int) -> None:
        while len(self.ids) < min(upto, self.total):
            i = len(self.ids)
            task_id, payload = self.plan(i)
            try:
                if self.client is None:
                    self.client = Client(database_url=self.url)
                handle = self.client.tasks.trigger(task_id, payload,
                                                   idempotency_key=f"chaos-{i}")
            except Exception:
                self.close()
                return  # the store is away: try again on the next turn
            self.ids.append(handle.id)

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
            self.client = None


@contextlib.contextmanager
def engine_at(url: str) -> Iterator[Engine]:
    engine = Engine(open_store(url))
    try:
        yield engine
    finally:
        engine.store.close()


def write_project(root: Path) -> None:
    (root / "tasks").mkdir(parents=True)
    shutil.copy(TASKS, root / "tasks" / "chaos_tasks.py")
    (root / "outlast.toml").write_text('project = "chaos"\ndirs = ["tasks"]\n')


def worker_env(url: str, out: Path, lease: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    env.update(PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1", OUTLAST_DATABASE_URL=url,
               CHAOS_OUT=str(out),
               OUTLAST_LEASE_SECONDS=str(lease))
    return env


def eventually(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return True
        time.sleep(0.5)
    return False


def _registered(url: str) -> bool:
    with engine_at(url) as engine:
        engine.definition("dev", "chaos-durable")
        return True


def _all_final(url: str, ids: list[str]) -> bool:
    with engine_at(url) as engine:
        runs = checks.all_runs(engine)
    return all(i in runs for i in ids) and all(r["is_final"] for r in runs.values())


def _non_final(url: str) -> list[str]:
    for _ in range(30):  # the database may be restarting still
        with contextlib.suppress(Exception), engine_at(url) as engine:
            return checks.stuck(checks.all_runs(engine))
        time.sleep(1)
    return ["(the database did not answer after the drain)"]


def run_suite(options: Options, say: Any = print) -> Report:
    tmp = Path(tempfile.mkdtemp(prefix="outlast-chaos-"))
    cluster: PrivatePostgres | None = None
    fleet: Fleet | None = None
    try:
        if options.store == "postgres":
            cluster = PrivatePostgres()
            url = cluster.url
        else:
            url = f"sqlite:///{tmp / 'outlast.db'}"
        root, out = tmp / "project", tmp / "out"
        write_project(root)
        out.mkdir()
        env = worker_env(url, out, options.lease)
        subprocess.run([*OUTLAST, "migrate"], cwd=root, env=env, check=True,
                       capture_output=True, timeout=120)
        fleet = Fleet(root, env, options.concurrency,
                      TRACEBACKS if options.tracebacks else OUTLAST)
        return _exercise(options, url, out, fleet, cluster, say)
    finally:
        if fleet is not None:
            for worker in fleet.workers + fleet.retired:
                worker.signal(signal.SIGCONT)
                worker.kill_session()
        if cluster is not None:
            cluster.close()
        if options.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _exercise(options: Options, url: str, out: Path, fleet: Fleet,
              cluster: PrivatePostgres | None, say: Any) -> Report:
    started = time.monotonic()
    for _ in range(options.workers):
        fleet.start()
    if not eventually(lambda: _registered(url), 60):
        raise RuntimeError("no worker registered the tasks within 60 s:\n"
                           + "\n".join(w.tail() for w in fleet.workers))
    rng = random.Random(options.seed)
    faults = Faults(rng, fleet, options.lease, cluster, options.faults)
    triggerer = Triggerer(url, options.runs)
    triggerer.more(options.runs // 2)
    say(f"chaos: {options.store}, {options.workers} workers, {options.runs} runs, "
        f"{options.duration:.0f}s of faults {options.faults}, seed {options.seed}")
    _fault_window(options, fleet, faults, triggerer, rng)
    faults.resume_due(everything=True)
    triggerer.more(options.runs)
    drained = _drain(options, url, fleet, triggerer)
    triggerer.close()
    say(f"chaos: drain {'done' if drained else 'TIMED OUT'}")
    stuck = [] if drained else _non_final(url)  # before stopping the workers changes them
    orphans = _orphans(fleet, faults)
    unclean = _stop_all(fleet)
    with engine_at(url) as engine:
        findings = checks.check(engine, triggerer.ids, out)
    # a trigger the store never accepted (it was away until the end) is lost as well
    findings.lost += [f"trigger #{i} never accepted" for i in range(len(triggerer.ids),
                                                                    options.runs)]
    findings.triggered = options.runs
    findings.stuck = sorted(set(findings.stuck) | set(stuck))
    return Report(options, findings, dict(faults.applied), dict(faults.skipped), fleet.deaths,
                  fleet.failed_starts,
                  unclean, orphans, fleet.count, faults.enabled, faults.log,
                  time.monotonic() - started)


def _fault_window(options: Options, fleet: Fleet, faults: Faults, triggerer: Triggerer,
                  rng: random.Random) -> None:
    start = time.monotonic()
    end = start + options.duration
    next_fault = start + rng.uniform(*options.gap)
    while (now := time.monotonic()) < end:
        fleet.supervise()
        faults.resume_due()
        # the second half of the runs arrives during the first half of the window
        share = min(1.0, (now - start) / max(options.duration / 2, 1e-9))
        triggerer.more(options.runs // 2 + int(share * (options.runs - options.runs // 2)))
        if now >= next_fault:
            faults.apply_random()
            next_fault = time.monotonic() + rng.uniform(*options.gap)
        time.sleep(0.2)


def _drain(options: Options, url: str, fleet: Fleet, triggerer: Triggerer) -> bool:
    deadline = time.monotonic() + options.drain
    while time.monotonic() < deadline:
        fleet.supervise()
        triggerer.more(options.runs)
        if len(triggerer.ids) == options.runs and eventually(
                lambda: _all_final(url, triggerer.ids), 0.1):
            return True
        time.sleep(1.0)
    return False


def _orphans(fleet: Fleet, faults: Faults) -> int:
    """Processes of killed supervisors' sessions still alive after the drain."""
    table = processes()
    return sum(1 for p in table if p.session in set(faults.killed_sessions))


def _stop_all(fleet: Fleet) -> list[str]:
    """SIGTERM every worker, as a deploy does: each must exit 0 within its grace."""
    unclean = []
    for worker in fleet.workers:
        code = worker.stop(timeout=30)
        if code != 0:
            unclean.append(f"{worker.name} (pid {worker.pid}) stopped with {code}:\n"
                           f"{worker.tail()}")
    wait_gone([p.pid for w in fleet.workers for p in processes() if p.session == w.pid], 5)
    return unclean


def table(report: Report) -> str:
    f = report.findings
    rows: list[tuple[str, Any]] = [
        ("store", report.options.store), ("seed", report.options.seed),
        ("workers (started in all)", f"{report.options.workers} ({report.started})"),
        ("runs triggered", f.triggered), ("runs completed (with children)", f.completed),
        ("attempts by status", ", ".join(f"{k} {v}" for k, v in f.attempts.items())),
        ("step executions", f.step_executions),
        ("steps run again before their record (allowed)", f.steps_at_least_once),
    ]
    rows += [(f"fault: {k}", f"{report.applied.get(k, 0)}"
              + (f" (+{report.skipped[k]} without a target)" if report.skipped.get(k) else ""))
             for k in report.enabled]
    rows.append(("orphans left by killed supervisors", report.orphans))
    rows.append(("workers that failed to start (database away)", len(report.failed_starts)))
    rows += [(f"ASSERT {k} == 0", v if v == 0 else f"{v}  <-- FAIL")
             for k, v in report.failures().items()]
    rows.append(("seconds", f"{report.seconds:.0f}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def details(report: Report, limit: int = 10) -> str:
    f = report.findings
    parts = []
    for title, items in [("lost", f.lost), ("stuck", f.stuck), ("failed", f.failed),
                         ("re-run", f.reruns),
                         ("attempts failed by platform errors", f.platform_failed_attempts),
                         ("duplicate children", f.duplicate_children),
                         ("outputs that disagree with the journal", f.wrong_outputs),
                         ("deaths", report.deaths), ("failed starts", report.failed_starts),
                         ("unclean stops", report.unclean_stops)]:
        if items:
            parts.append(f"-- {title} ({len(items)}):\n" + "\n".join(items[:limit]))
    return "\n".join(parts)


def parse(argv: list[str] | None) -> Options:
    p = argparse.ArgumentParser(description="Outlast's fault suite (see bench/chaos/).")
    p.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--runs", type=int, default=300)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of faults")
    p.add_argument("--drain", type=float, default=180.0, help="seconds at most to finish")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--faults", default=",".join(FAULTS),
                   help=f"comma-separated subset of {','.join(FAULTS)} (empty: none)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--tracebacks", action="store_true",
                   help="run workers outside click's standalone mode: deaths show a traceback")
    a = p.parse_args(argv)
    chosen = [f for f in a.faults.split(",") if f]
    unknown = set(chosen) - set(FAULTS)
    if unknown:
        p.error(f"unknown faults: {', '.join(sorted(unknown))}")
    return Options(store=a.store, workers=a.workers, concurrency=a.concurrency, runs=a.runs,
                   duration=a.duration, drain=a.drain, seed=a.seed, faults=chosen,
                   keep=a.keep, tracebacks=a.tracebacks)


def _exit_on(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through run_suite's cleanup


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on)
    report = run_suite(options)
    print(table(report))
    extra = details(report)
    if extra:
        print(extra)
    if report.fault_log:
        print("-- faults:\n" + "\n".join(report.fault_log))
    return 0 if report.ok else 1
