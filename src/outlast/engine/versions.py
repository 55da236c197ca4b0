"""The versions registry: which code versions an environment has, and which is current.

Workers, ``outlast deploy`` and ``outlast dev`` register the version of the code they run
with its task definitions. Whether registering makes it current is a rule
(``promotes``): ``outlast dev`` always does (each reload is the newest code), a deploy
always does, and a worker does when its version is new, unless the environment's versions
are managed by ``outlast deploy`` — then a worker of a version nobody deployed serves only
the runs pinned to it, and says so, instead of taking new runs away from the deployed code.
A worker of a version seen before (an old worker restarting during a rolling deploy)
leaves the current version alone: promoting it back takes a person.
"""

from __future__ import annotations

from dataclasses import dataclass

from outlast.core.definitions import TaskDefinition
from outlast.core.import_failures import failed_files
from outlast.core.versions import (
    CURRENT,
    RETIRED,
    SOURCE_DEPLOY,
    SOURCE_DEV,
    SOURCE_WORKER,
    fresh_tasks,
)
from outlast.engine import events
from outlast.errors import UnknownVersionError
from outlast.jsonutil import dumps, loads
from outlast.store.protocol import Row, Tx


@dataclass(frozen=True)
class Registered:
    """A version after registering: its state, and the environment's current version."""

    version: str
    state: str
    current: str | None


def promotes(source: str, managed: bool, new: bool = True) -> bool:
    """Pure: does registering from ``source`` make the version current? ``new``: the
    version was never registered before."""
    if source in (SOURCE_DEPLOY, SOURCE_DEV):
        return True
    return source == SOURCE_WORKER and new and not managed


def register(tx: Tx, env: str, version: str, definitions: list[TaskDefinition], *,
             source: str, now: float, promote: bool | None = None) -> Registered:
    """Record ``version`` and its tasks; make it current when ``promote`` (or the rule,
    when ``promote`` is None) says so."""
    managed = tx.one("deploy_managed", environment=env) is not None
    new = tx.run("insert_version", environment=env, version=version, source=source,
                 now=now) > 0
    tx.many("upsert_version_task", [{"environment": env, "version": version, "task_id": d.id,
                                     "definition": dumps(d.to_dict())} for d in definitions])
    if promote if promote is not None else promotes(source, managed, new):
        make_current(tx, env, version, now)
    return Registered(version, state_of(tx, env, version) or CURRENT, current(tx, env))


def make_current(tx: Tx, env: str, version: str, now: float) -> None:
    """``version`` becomes current; the one that was is draining from now on."""
    tx.run("demote_current_version", environment=env, version=version)
    tx.run("promote_version", environment=env, version=version, now=now)


def current(tx: Tx, env: str) -> str | None:
    row = tx.one("current_version", environment=env)
    return str(row["version"]) if row is not None else None


def state_of(tx: Tx, env: str, version: str) -> str | None:
    row = tx.one("get_version", environment=env, version=version)
    return str(row["state"]) if row is not None else None


def require_runnable(tx: Tx, env: str, version: str, task_id: str) -> None:
    """A run pinned to ``version`` (at trigger time, or moved there) must be runnable:
    the version registered in this environment, with the run's task. Otherwise it would
    wait for a worker that cannot exist: ``UnknownVersionError`` (400) says so instead."""
    if state_of(tx, env, version) is None:
        raise UnknownVersionError(
            f"version {version!r} is not registered in environment {env!r}: start a "
            "worker of it (or deploy it) first", version=version)
    if task_id not in task_ids(tx, env, version):
        raise UnknownVersionError(
            f"version {version!r} has no task {task_id!r}: its workers could never run it",
            version=version, task=task_id)


def task_ids(tx: Tx, env: str, version: str) -> list[str]:
    return [str(r["task_id"]) for r in tx.all("version_task_ids", environment=env,
                                              version=version)]


#: a worker is live while it is not stopped and its last heartbeat is this recent (the
#: Workers page and the import-failure messages judge liveness the same way)
LIVE_AFTER = 60.0


def waiting_for(tx: Tx, env: str, row: Row, now: float) -> str | None:
    """Who a QUEUED run waits for when no live worker can take it, in words; None when
    one can (or the run is not queued). It is read, not stored: it changes as workers
    come and go, and a run that waits spends no attempt."""
    if row["status"] != "QUEUED":
        return None
    task, pinned = str(row["task_id"]), row.get("version")
    live = live_versions(tx, env, now)
    if None in live:  # a worker that claims without versions takes any run
        return None
    if pinned is not None:
        return None if task in live.get(pinned, ()) else f"a worker of version {pinned}"
    cur = current(tx, env)
    theirs = task_ids(tx, env, cur) if cur is not None else []
    for version, tasks in live.items():
        assert version is not None
        if state_of(tx, env, version) != RETIRED and \
                task in fresh_tasks(version, tasks, cur, theirs):
            return None
    if cur is not None and task in theirs:
        return f"a worker of the current version {cur}"
    failures = import_failures(tx, env, now)
    why = f" ({failed_files(task, failures)})" if failures else ""
    return f"a worker with task {task!r}{why}"


def live_workers(tx: Tx, env: str, now: float) -> list[Row]:
    return tx.all("list_workers", environment=env, since=now - LIVE_AFTER)


def live_versions(tx: Tx, env: str, now: float) -> dict[str | None, list[str]]:
    """The versions live workers run, with each version's tasks (None: a worker that
    registered no version)."""
    names = {r.get("code_version") for r in live_workers(tx, env, now)}
    return {v: task_ids(tx, env, v) if v is not None else [] for v in names}


def import_failures(tx: Tx, env: str, now: float) -> dict[str, dict[str, str]]:
    """The task files live workers could not import, by path: a task missing from every
    version most likely is in one of them."""
    failures: dict[str, dict[str, str]] = {}
    for worker in live_workers(tx, env, now):
        failures.update(loads(worker["import_errors"]) if worker["import_errors"] else {})
    return failures


def follow_reload(tx: Tx, env: str, version: str, now: float) -> list[str]:
    """``outlast dev`` reloaded as ``version``: its unfinished runs pinned to an earlier
    reload follow it (their ids). Under dev nobody keeps the old code's workers running,
    so a run left on an earlier reload would wait forever; on the new code it resumes, or,
    when the change no longer matches its history, parks and says what changed. An
    EXECUTING run finishes its attempt on the code it started with; its next attempt is
    on the new version. Each run gets a ``move_version`` event that says "reloaded"."""
    moved: list[str] = []
    for row in tx.all("dev_runs_to_follow", environment=env, version=version):
        if tx.run("follow_version", id=row["id"], version=version, previous=row["version"],
                  now=now) == 0:
            continue
        moved.append(str(row["id"]))
        events.append(tx, [events.event_row(str(row["id"]), "move_version", now,
                                            str(row["status"]), version=version,
                                            previous=row["version"], reason="reloaded")])
        tx.notify(events.CHANGED_CHANNEL, str(row["id"]))
    if moved:
        tx.notify(events.QUEUED_CHANNEL, "*")
    return moved
