"""The fault suite, short: about a minute per store with a fixed seed.

Real ``outlast worker`` processes on SQLite and on a private PostgreSQL cluster that the
suite starts itself (never the shared server) take supervisor, child and fork-server
kills, a SIGSTOP past the lease and database restarts, and still lose no run, leave none
stuck, re-run no recorded step, spend no attempt on a platform error and die only when
killed. One suite run per store feeds both tests. ``bench/chaos.py`` runs the same suite
at any size.
"""

from __future__ import annotations

import os
import shutil

import pytest
from bench.chaos.run import Options, Report, details, run_suite, table

pytestmark = pytest.mark.acceptance


def require_private_postgres() -> None:
    """initdb and pg_ctl on PATH (and, as root, runuser): else skip, or fail under CI."""
    missing = [tool for tool in ("initdb", "pg_ctl") if shutil.which(tool) is None]
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing.append("runuser")
    if not missing:
        return
    message = f"a private PostgreSQL cluster needs {', '.join(missing)}"
    if os.environ.get("CI"):
        pytest.fail(f"{message}. CI=true: PostgreSQL tests must not be skipped.", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def report(request: pytest.FixtureRequest) -> Report:
    if request.param == "postgres":
        require_private_postgres()
    options = Options(store=request.param, workers=2, concurrency=3, runs=100, duration=30.0,
                      drain=120.0, seed=20261204, gap=(1.0, 2.5))
    return run_suite(options, say=lambda *_: None)


def shown(report: Report) -> str:
    return f"{table(report)}\n{details(report)}\n" + "\n".join(report.fault_log)


def counts(report: Report, *names: str) -> dict[str, int]:
    failures = report.failures()
    return {name: failures[name] for name in names}


@pytest.mark.timeout(360)
def test_faults_lose_no_run_and_rerun_no_recorded_step(report: Report) -> None:
    assert set(report.applied) == set(report.enabled), shown(report)
    names = ("lost", "stuck", "failed (platform)", "recorded steps re-run",
             "duplicate child runs", "outputs that disagree with the journal")
    assert counts(report, *names) == dict.fromkeys(names, 0), shown(report)


@pytest.mark.timeout(360)
def test_faults_kill_no_worker_and_cost_no_attempt(report: Report) -> None:
    names = ("unexpected worker deaths", "unclean worker stops",
             "attempts failed by platform errors")
    assert counts(report, *names) == dict.fromkeys(names, 0), shown(report)
