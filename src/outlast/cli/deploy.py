"""``outlast deploy``: make this code the environment's current version; ``--check``:
would it break the runs in flight?

A deploy (self-hosted) migrates the database, imports the project's task modules from the
working directory (as ``outlast worker`` does) and names their version: ``--version V`` /
``OUTLAST_VERSION``, else the hash of the project files imported, the same hash the
workers started from this code register, so they agree without being told. It replays the
runs in flight against this code and prints what would break: informational, since a
deploy moves no run by itself (a run stays pinned to the version it started on and keeps
running on that version's workers). Then it registers the version with its tasks, makes it
current (new runs go to its workers) and says what the older versions still hold and
which may stop (``engine/deploys.py``). ``--move-safe`` also moves the runs of older
versions that replay cleanly here; ``--dry-run`` reports all of it and writes nothing.

``--check`` only checks (``outlast.worker.replay``): no step runs, nothing is written.
Runs whose replay would stop (a renamed or reordered step, a removed task, code that
raises before the end of the record) are listed, and the command exits 1; with none, 0.
CI pipelines can call ``outlast.worker.replay.check_environment`` directly. Which runs:
those pinned to ``--version V`` when given; otherwise those of the environment's current
version and those not pinned yet (the current version's workers take them); in an
environment with no current version, every run that is not final.
"""

from __future__ import annotations

import os

import click

from outlast.cli.common import database_url_option, project_config
from outlast.cli.output import fail, note, redact_url, table
from outlast.cli.project_tasks import load_project_tasks
from outlast.config import ENVIRONMENTS, Config
from outlast.core.versions import check_version
from outlast.engine import Engine
from outlast.engine.deploys import Deployed
from outlast.engine.deploys import deploy as deploy_version
from outlast.engine.replay_reads import Scope, scope_of
from outlast.sdk.registry import default_registry
from outlast.store import open_store
from outlast.store.protocol import Store
from outlast.worker.code_identity import project_version
from outlast.worker.replay import check_scope
from outlast.worker.replay_verdicts import Verdict

HEADERS = ["RUN", "TASK", "POSITION", "RECORDED", "NOW"]
STAYING_HEADERS = ["RUN", "VERSION", "WHY IT STAYS"]


@click.command()
@click.option("--check", is_flag=True,
              help="Only replay the runs in flight against this code; exit 1 if any would "
                   "break. Registers nothing.")
@click.option("--version", "version", metavar="V",
              help="The version to deploy (env OUTLAST_VERSION; default: a hash of the task "
                   "modules). With --check: only the runs pinned to V (default: the current "
                   "version's, and those not pinned yet).")
@click.option("--move-safe", is_flag=True,
              help="After promoting, move the runs of other versions that replay cleanly on "
                   "this code to it (EXECUTING ones stay).")
@click.option("--dry-run", is_flag=True, help="Say what the deploy would do; write nothing.")
@database_url_option
@click.option("--env", "environment", type=click.Choice(ENVIRONMENTS),
              help="Environment to deploy to (default: the config's, else dev).")
def deploy(check: bool, version: str | None, move_safe: bool, dry_run: bool,
           database_url: str | None, environment: str | None) -> None:
    """Deploy this code: register its version and make it current; --check only checks."""
    config = project_config(database_url).with_environment(environment)
    if version is not None:
        check_version(version, "--version")
    if check:
        if move_safe or dry_run:
            fail("--check only checks: it takes neither --move-safe nor --dry-run", 2)
        raise click.exceptions.Exit(check_deploy(config, version))
    given = version or _env_version()
    raise click.exceptions.Exit(run_deploy(config, given, move_safe=move_safe,
                                           dry_run=dry_run))


def _env_version() -> str | None:
    value = os.environ.get("OUTLAST_VERSION") or None
    return check_version(value, "OUTLAST_VERSION") if value is not None else None


def run_deploy(config: Config, version: str | None, *, move_safe: bool = False,
               dry_run: bool = False) -> int:
    """Import this code (refused when a task file does not import), migrate, check the
    runs in flight, register and promote its version; print what happened."""
    if load_project_tasks(config):
        fail("a task file did not import (see above): fix it before deploying, or its "
             "tasks would be missing from the version", 1)
    version = version or project_version(config.root)
    store = open_store(config.database_url)
    try:
        _migrate(store, dry_run)
        verdicts = _check_in_flight(store, config)
        definitions = [t.definition() for t in default_registry.all()]
        deployed = deploy_version(
            Engine(store, settings=config.settings), config.environment, version,
            definitions, dry_run=dry_run,
            move_safe={v.run_id: v.describe() if v.breaks else None for v in verdicts}
            if move_safe else None)
    finally:
        store.close()
    print_deployed(deployed, move_safe)
    return 0


def _migrate(store: Store, dry_run: bool) -> None:
    if dry_run:
        note("dry run: nothing is written (not even migrations)")
        return
    applied = store.migrate()
    note(f"applied migrations {', '.join(applied)}" if applied else "database is up to date")


def _check_in_flight(store: Store, config: Config) -> list[Verdict]:
    """The deploy check of every run in flight, printed: informational (runs stay pinned
    to their versions), and what ``--move-safe`` goes by."""
    note(f"checking runs in flight of environment {config.environment} against this code "
         f"(database {redact_url(config.database_url)})")
    verdicts = check_scope(store, config.environment, Scope(), registry=default_registry)
    report(verdicts)
    if any(v.breaks for v in verdicts):
        note("a deploy moves no run by itself: a run pinned to a version keeps running on "
             "that version's workers (moving these to this code would park them)")
    return verdicts


def print_deployed(d: Deployed, move_safe: bool = False) -> None:
    """What the deploy did: the version, the one before, who still needs old workers."""
    would = "would be" if d.dry_run else "is"
    if d.already_current:
        click.echo(f"version {d.version} is already current: nothing to promote")
    else:
        click.echo(f"version {d.version} ({'new' if d.new else 'registered before'}) "
                   f"{would} current; previous current version: {d.previous or 'none'}")
    if move_safe:
        _print_moves(d)
    for version, counts in d.pinned.items():
        click.echo(f"version {version} still has {_counts(counts)} pinned to it: keep a "
                   f"worker of version {version} running, e.g. `outlast worker --version "
                   f"{version} --exit-when-drained`, or move its runs with `outlast runs move "
                   f"ID --version {d.version}`")
    if d.safe_to_stop:
        click.echo(f"safe to stop: the workers of version{'s' if len(d.safe_to_stop) > 1 else ''}"
                   f" {', '.join(d.safe_to_stop)} (no unfinished run needs them)")
    if d.dry_run:
        click.echo("dry run: nothing was written")


def _print_moves(d: Deployed) -> None:
    verb = "would move" if d.dry_run else "moved"
    click.echo(f"{verb} {len(d.moved)} run{'' if len(d.moved) == 1 else 's'} of other "
               f"versions to {d.version}: they replay cleanly on this code")
    if d.staying:
        click.echo(f"{len(d.staying)} stay pinned to their version:")
        click.echo(table(STAYING_HEADERS, [[s.run_id, s.version, s.why] for s in d.staying]))


def _counts(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    detail = ", ".join(f"{n} {status}" for status, n in counts.items())
    return f"{total} unfinished run{'' if total == 1 else 's'} ({detail})"


def check_deploy(config: Config, version: str | None) -> int:
    """Replay the runs in flight of ``config``'s environment against the project's tasks,
    print those that would break; the exit code (1 if any would, else 0)."""
    load_project_tasks(config)
    store = open_store(config.database_url)
    try:
        if store.embedded:
            store.migrate()
        scope = scope_of(store, config.environment, version)
        note(f"checking runs in flight of environment {config.environment}, "
             f"{scope.describe()} (database {redact_url(config.database_url)})")
        verdicts = check_scope(store, config.environment, scope, registry=default_registry)
    finally:
        store.close()
    return report(verdicts)


def report(verdicts: list[Verdict]) -> int:
    """Print the runs that would break and a summary; the exit code (1 if any would)."""
    broken = [v for v in verdicts if v.breaks]
    if broken:
        click.echo(table(HEADERS, [_row(v) for v in broken]))
    runs = f"{len(verdicts)} run{'' if len(verdicts) == 1 else 's'} in flight checked"
    click.echo(f"{runs}: {len(broken) or 'none'} would break on this code")
    return 1 if broken else 0


def _row(v: Verdict) -> list[str]:
    position = "-" if v.seq is None else f"#{v.seq}"
    if v.kind == "task_missing":
        return [v.run_id, v.task_id, position, "-", "task is gone"]
    if v.kind == "raised" and v.error:
        return [v.run_id, v.task_id, position, "-",
                f"raises {v.error['type']}: {v.error['message']}"]
    recorded = v.recorded or {"kind": "?", "name": "?"}
    called = v.called or {"kind": "?", "name": "?"}
    return [v.run_id, v.task_id, position, f"{recorded['kind']} {recorded['name']!r}",
            f"{called['kind']} {called['name']!r}"]
