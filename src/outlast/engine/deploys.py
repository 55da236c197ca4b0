"""``outlast deploy``: register a version of the code, make it current, say what it leaves.

A deploy is the moment new runs change hands: from then on the new version's workers take
every run not pinned yet, while runs pinned to older versions stay with those versions'
workers (replaying a run's history on other code is what breaks it). So besides
registering and promoting, a deploy answers the operator's next questions: which older
versions still hold unfinished runs (their workers must keep running, or the runs be
moved), and which versions nothing needs any more (their workers may stop).

With ``move_safe``, runs of other versions (older ones, or newer ones when a deploy rolls
back) that the deploy check says replay cleanly on the new code are moved to it, so the
other workers drain sooner. The check ran before the move and a run may have gone on
since: one that no longer matches parks on the new version and says so, which loses
nothing. An EXECUTING run is never moved: its attempt runs the code it started with.

``dry_run`` does all of it in a transaction that is rolled back, so what it reports is
exactly what a deploy would have done at that moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from outlast.core.definitions import TaskDefinition
from outlast.core.versions import RETIRED, SOURCE_DEPLOY
from outlast.engine import events, journal, transitions
from outlast.engine import versions as registry
from outlast.engine.statuses import FINAL, RunStatus
from outlast.errors import RunNotFoundError
from outlast.store.protocol import Tx

if TYPE_CHECKING:
    from outlast.engine import Engine

S = RunStatus

#: why an EXECUTING run stays pinned to its version
EXECUTING_STAYS = "EXECUTING: its attempt runs the code it started with; move it later"


@dataclass(frozen=True)
class Staying:
    """A run of an older version that a ``move_safe`` deploy left pinned to it, and why."""

    run_id: str
    version: str
    why: str


@dataclass(frozen=True)
class Deployed:
    """What a deploy did (or, dry, would do)."""

    version: str
    #: never registered in the environment before
    new: bool
    #: the current version before the deploy (None: there was none)
    previous: str | None
    #: older versions still holding unfinished runs: {version: {status: count}}
    pinned: dict[str, dict[str, int]] = field(default_factory=dict)
    #: versions neither current nor retired with no unfinished run: their workers may stop
    safe_to_stop: list[str] = field(default_factory=list)
    #: runs moved to the new version (``move_safe``)
    moved: list[str] = field(default_factory=list)
    staying: list[Staying] = field(default_factory=list)
    dry_run: bool = False

    @property
    def already_current(self) -> bool:
        return self.previous == self.version


class _RolledBack(Exception):  # noqa: N818 - carries a dry run's answer out of its transaction
    def __init__(self, deployed: Deployed) -> None:
        super().__init__("dry run")
        self.deployed = deployed


def deploy(engine: Engine, env: str, version: str, definitions: list[TaskDefinition], *,
           move_safe: Mapping[str, str | None] | None = None, complete: bool = True,
           dry_run: bool = False) -> Deployed:
    """Register ``version`` with ``definitions`` (source "deploy"), make it current, and
    register the tasks so that triggers by id work before any new worker starts.

    ``move_safe``: the deploy check's verdicts, {run id: None when the run replays cleanly
    on this code, else why not}; clean runs of other versions are moved to ``version``.
    ``complete``: every task file imported (else schedules of missing tasks stay).
    """
    try:
        with engine.store.transaction() as tx:
            deployed = _deploy_in(tx, env, version, definitions, move_safe,
                                  engine.clock.now(), dry_run)
            if dry_run:
                raise _RolledBack(deployed)
    except _RolledBack as rolled_back:
        return rolled_back.deployed
    engine.register_tasks(env, definitions, complete=complete)
    return deployed


def _deploy_in(tx: Tx, env: str, version: str, definitions: list[TaskDefinition],
               move_safe: Mapping[str, str | None] | None, now: float,
               dry_run: bool) -> Deployed:
    previous = registry.current(tx, env)
    new = registry.state_of(tx, env, version) is None
    registry.register(tx, env, version, definitions, source=SOURCE_DEPLOY, now=now,
                      promote=previous != version)
    # a version a worker registered first is deployed now: the environment is managed
    tx.run("set_version_source", environment=env, version=version, source=SOURCE_DEPLOY)
    if previous != version:
        tx.notify(events.QUEUED_CHANNEL, "*")  # the new version's workers take new runs
    moved, staying = _move_safe(tx, env, version, move_safe or {}, now)
    pinned, safe = _leftovers(tx, env, version)
    return Deployed(version, new, previous, pinned, safe, moved, staying, dry_run)


def _move_safe(tx: Tx, env: str, version: str, verdicts: Mapping[str, str | None],
               now: float) -> tuple[list[str], list[Staying]]:
    """Move the runs of other versions whose verdict is clean; say why the others stay."""
    moved: list[str] = []
    staying: list[Staying] = []
    for run_id, why in sorted(verdicts.items()):
        try:
            row = journal.lock_in_env(tx, env, run_id)
        except RunNotFoundError:  # deleted since the check
            continue
        pinned = row.get("version")
        if pinned is None or pinned == version or S(row["status"]) in FINAL:
            continue  # unpinned runs go to the current version anyway
        if why is None and row["status"] == S.EXECUTING.value:
            why = EXECUTING_STAYS
        if why is not None:
            staying.append(Staying(run_id, pinned, why))
        elif row["status"] == S.PARKED.value:
            transitions.unpark(tx, run_id=run_id, now=now, version=version,
                               event="move_version",
                               data={"version": version, "previous": pinned})
            moved.append(run_id)
        else:
            transitions.move(tx, row, version=version, now=now)
            moved.append(run_id)
    return moved, staying


def _leftovers(tx: Tx, env: str, version: str) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Older versions still holding unfinished runs, and those whose workers may stop."""
    pinned: dict[str, dict[str, int]] = {}
    for r in tx.all("pinned_run_counts", environment=env):
        if r["version"] != version:
            pinned.setdefault(str(r["version"]), {})[str(r["status"])] = int(r["n"])
    safe = [str(r["version"]) for r in tx.all("list_versions", environment=env)
            if r["version"] != version and r["state"] != RETIRED
            and r["version"] not in pinned]
    return {v: dict(sorted(c.items())) for v, c in sorted(pinned.items())}, safe
