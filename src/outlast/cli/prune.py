"""``outlast prune``: delete finished runs whose retention is over, by hand.

It applies the same rules and the same bounded batches as upkeep, which prunes on its own
every few minutes (``outlast/upkeep/pruning.py``); this is for seeing what retention
would remove (``--dry-run``), for an environment's backlog right now, or for a shorter
period than configured (``--older-than``). Each task's retention is the one its worker
registered; the table says what was deleted (or would be) from each table.
"""

from __future__ import annotations

import click

from outlast.cli.common import database_url_option, open_engine, project_config
from outlast.cli.output import note, table, when
from outlast.config import ENVIRONMENTS
from outlast.core.retention import Retention, describe, parse_period
from outlast.engine import Engine
from outlast.engine.pruning import TABLES, PruneReport


@click.command()
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--env", "environment", type=click.Choice(ENVIRONMENTS),
              help="The environment to prune (default: the project's).")
@click.option("--older-than", metavar="DURATION",
              help="Delete runs finished longer ago than this (e.g. 7d), whatever their "
                   "tasks' retention; live trees and live idempotency keys still stay.")
@click.option("--vacuum", is_flag=True,
              help="Then give the space back: SQLite rewrites its file smaller (VACUUM, "
                   "needs that much free disk); PostgreSQL runs VACUUM ANALYZE on the run "
                   "tables.")
@database_url_option
def prune(dry_run: bool, environment: str | None, older_than: str | None, vacuum: bool,
          database_url: str | None) -> None:
    """Delete finished runs past their retention, with everything that belongs to them."""
    if dry_run and vacuum:
        raise click.UsageError("--vacuum gives back the space of what prune deleted; a dry "
                               "run deletes nothing")
    period = None if older_than is None else parse_period(older_than, "--older-than")
    config = project_config(database_url).with_environment(environment)
    engine = open_engine(config)
    try:
        note(policy_line(engine, config.environment, period))
        report = engine.retention.prune(config.environment, dry_run=dry_run,
                                        older_than=period)
        if not dry_run:
            engine.retention.record(report)
        click.echo(summary(report))
        if vacuum:
            note("vacuuming (the database is busy meanwhile)…")
            engine.store.compact()
            note("vacuumed")
        for line in last_passes(engine):
            note(line)
    finally:
        engine.store.close()


def policy_line(engine: Engine, env: str, older_than: float | None) -> str:
    """What is kept how long (finished/failed), grouped by period, as registered."""
    if older_than is not None:
        return f"environment {env}: runs finished more than {describe(older_than)} ago"
    by_period: dict[str, list[str]] = {}
    for task, r in sorted(engine.retention.policy(env).tasks.items()):
        by_period.setdefault(f"{describe(r.finished)}/{describe(r.failed)}", []).append(task)
    default = Retention()
    parts = [f"{period}: {', '.join(tasks)}" for period, tasks in by_period.items()]
    parts.append(f"{describe(default.finished)}/{describe(default.failed)}: any other task")
    return f"environment {env}: retention (finished/failed) {'; '.join(parts)}"


def summary(report: PruneReport) -> str:
    verb = "would delete" if report.dry_run else "deleted"
    rows = [[name, str(report.rows[name])] for name in ("runs", *TABLES[:-1])]
    return f"{verb} {report.runs} run(s), {report.total} row(s) in all\n" + table(
        ["table", "rows"], rows)


def last_passes(engine: Engine) -> list[str]:
    return [f"last prune of {s['environment']}: {when(s['pruned_at'])}, {s['runs']} run(s) "
            f"({s['total_runs']} in all)" for s in engine.retention.status()]
