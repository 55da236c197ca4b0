"""``outlast deploy --check``: would this code break the runs in flight?

Imports the project's task modules from the working directory (as ``outlast worker``
does), reads the environment's runs that are not final straight from the database, and
replays each against this code without doing anything (``outlast.worker.replay``): no step
runs, nothing is written. Runs whose replay would stop (a renamed or reordered step, a
removed task, code that raises before the end of the record) are listed, and the command
exits 1; with none, 0. CI pipelines can call ``outlast.worker.replay.check_environment``
directly.

Which runs: those pinned to ``--version V`` when given; otherwise those of the
environment's current version and those not pinned yet (the current version's workers
take them); in an environment with no current version, every run that is not final.
"""

from __future__ import annotations

import click

from outlast.cli.common import database_url_option, project_config
from outlast.cli.output import fail, note, redact_url, table
from outlast.cli.project_tasks import load_project_tasks
from outlast.config import ENVIRONMENTS, Config
from outlast.core.versions import check_version
from outlast.engine.replay_reads import scope_of
from outlast.sdk.registry import default_registry
from outlast.store import open_store
from outlast.worker.replay import check_scope
from outlast.worker.replay_verdicts import Verdict

HEADERS = ["RUN", "TASK", "POSITION", "RECORDED", "NOW"]


@click.command()
@click.option("--check", is_flag=True,
              help="Replay the runs in flight against this code; exit 1 if any would break.")
@click.option("--version", "version", metavar="V",
              help="Only the runs pinned to version V (default: the current version's, "
                   "and those not pinned yet).")
@database_url_option
@click.option("--env", "environment", type=click.Choice(ENVIRONMENTS),
              help="Environment to check (default: the config's, else dev).")
def deploy(check: bool, version: str | None, database_url: str | None,
           environment: str | None) -> None:
    """Deploy this code; --check replays the runs in flight against it first."""
    config = project_config(database_url).with_environment(environment)
    if version is not None:
        check_version(version, "--version")
    if not check:  # registering and promoting a version is not here yet
        fail("outlast deploy needs --check in this version: `outlast deploy --check` replays "
             "the runs in flight against this code", 2)
    raise click.exceptions.Exit(check_deploy(config, version))


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
