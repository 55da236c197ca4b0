"""The suite runs in several processes by default (pytest-xdist), so ``python -m pytest``
stays the whole command.

Most tests wait on subprocesses, sockets and the database rather than on the CPU, so there
are two workers per core. Tests are dealt out a file at a time (``--dist loadfile``): a
module's tests share one process, so a module-scoped fixture (a Chromium, the built docs
site) is made once. A command line that names a single file runs it in this process, where
starting workers would cost more than they save.

``-n N`` picks the number of workers (``PYTEST_XDIST_AUTO_NUM_WORKERS`` the number ``auto``
means), ``-n 0`` or ``-p no:xdist`` runs everything in this process. The options are set
here rather than in ``addopts`` because ``-p no:xdist`` would then reject ``-n``.

A test marked ``exclusive`` (one restarts the PostgreSQL server, some need the cores to
themselves to time or to overlap work) runs while no other worker is inside a test: it
waits for the tests under way to end, and the others wait for it. In one process the mark
changes nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

WORKERS_PER_CORE = 2


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Ask for ``-n auto --dist loadfile`` unless the command line says otherwise."""
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    if config.option.numprocesses is None and not config.option.usepdb:
        config.option.numprocesses = "auto"
        if config.option.dist == "no":
            config.option.dist = "loadfile"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """Two workers per core, none for a single named file; the environment variable wins
    (``None`` hands the question to pytest-xdist, which reads it)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    if len(_named_files(config)) == 1:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return WORKERS_PER_CORE * (cores or 1)


def _named_files(config: pytest.Config) -> set[Path]:
    """The files the command line names (a test id names its file); empty when it names
    a folder or nothing (the ``testpaths``)."""
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        return set()
    files = set()
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0])
        if not path.is_file():
            return set()
        files.add(path.resolve())
    return files


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Outside pytest-timeout's wrapper, so waiting for a turn does not count as the
    test's own time."""
    with _turn(item):
        return (yield)


@contextlib.contextmanager
def _turn(item: pytest.Item) -> Iterator[None]:
    """A shared lock for a test, an exclusive one for an ``exclusive`` test, held by the
    test's whole setup, call and teardown. Every test passes through a gate first, which
    the exclusive test closes before it waits: the others cannot keep it waiting forever
    by taking turns at the shared lock."""
    workerinput = getattr(item.config, "workerinput", None)
    if workerinput is None or workerinput["workercount"] < 2:
        yield
        return
    exclusive = item.get_closest_marker("exclusive") is not None
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    folder = Path(item.config.option.basetemp).parent  # one folder for the run's workers
    with open(folder / "exclusive.gate", "a") as gate, open(folder / "exclusive.lock", "a") as lock:
        fcntl.flock(gate, mode)
        if not exclusive:
            fcntl.flock(gate, fcntl.LOCK_UN)
        fcntl.flock(lock, mode)
        yield  # both files close (and unlock) on the way out
