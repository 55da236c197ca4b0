"""The fault suite, short: about a minute per store with a fixed seed.

Real ``outlast worker`` processes on SQLite and on a private PostgreSQL cluster that the
suite starts itself (never the shared server) take supervisor, child and fork-server
kills, a SIGSTOP past the lease and database restarts, and still lose no run, leave none
stuck, re-run no recorded step and die only when killed. ``bench/chaos.py`` runs the same
suite at any size.
"""

from __future__ import annotations

import os
import shutil

import pytest
from bench.chaos.run import Options, details, run_suite, table

pytestmark = pytest.mark.acceptance


def require_private_postgres() -> None:
    """initdb and pg_ctl on PATH (and, as root, a ``postgres`` user): else skip, fail in CI."""
    missing = [tool for tool in ("initdb", "pg_ctl") if shutil.which(tool) is None]
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing.append("runuser")
    if not missing:
        return
    message = f"a private PostgreSQL cluster needs {', '.join(missing)}"
    if os.environ.get("CI"):
        pytest.fail(f"{message}. CI=true: PostgreSQL tests must not be skipped.", pytrace=False)
    pytest.skip(message)


@pytest.mark.timeout(360)
@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_faults_lose_nothing(store: str) -> None:
    if store == "postgres":
        require_private_postgres()
    options = Options(store=store, workers=2, concurrency=3, runs=100, duration=30.0,
                      drain=120.0, seed=20261204, gap=(1.0, 2.5))
    report = run_suite(options, say=lambda *_: None)
    shown = f"{table(report)}\n{details(report)}\n" + "\n".join(report.fault_log)
    print(shown)
    assert report.failures() == dict.fromkeys(report.failures(), 0), shown
    expected = {f for f in options.faults if f != "pg-restart" or store == "postgres"}
    assert set(report.applied) == expected, shown
