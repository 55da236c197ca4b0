"""The versions registry: which code versions an environment has, and which is current.

Workers, ``outlast deploy`` and ``outlast dev`` register the version of the code they run
with its task definitions. Whether registering makes it current is a rule
(``promotes``): ``outlast dev`` always does (each reload is the newest code), a deploy
always does, and a worker does unless the environment's versions are managed by
``outlast deploy`` — then a worker of a version nobody deployed serves only the runs pinned
to it, and says so, instead of taking new runs away from the deployed code.
"""

from __future__ import annotations

from dataclasses import dataclass

from outlast.core.definitions import TaskDefinition
from outlast.core.versions import CURRENT, SOURCE_DEPLOY, SOURCE_DEV, SOURCE_WORKER
from outlast.jsonutil import dumps
from outlast.store.protocol import Tx


@dataclass(frozen=True)
class Registered:
    """A version after registering: its state, and the environment's current version."""

    version: str
    state: str
    current: str | None


def promotes(source: str, managed: bool) -> bool:
    """Pure: does registering from ``source`` make the version current?"""
    if source in (SOURCE_DEPLOY, SOURCE_DEV):
        return True
    return source == SOURCE_WORKER and not managed


def register(tx: Tx, env: str, version: str, definitions: list[TaskDefinition], *,
             source: str, now: float, promote: bool | None = None) -> Registered:
    """Record ``version`` and its tasks; make it current when ``promote`` (or the rule,
    when ``promote`` is None) says so."""
    managed = tx.one("deploy_managed", environment=env) is not None
    tx.run("insert_version", environment=env, version=version, source=source, now=now)
    for d in definitions:
        tx.run("upsert_version_task", environment=env, version=version, task_id=d.id,
               definition=dumps(d.to_dict()))
    if promote if promote is not None else promotes(source, managed):
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


def task_ids(tx: Tx, env: str, version: str) -> list[str]:
    return [str(r["task_id"]) for r in tx.all("version_task_ids", environment=env,
                                              version=version)]
