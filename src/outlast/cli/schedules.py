"""``outlast schedules``: list, create, delete, activate and deactivate cron schedules."""

from __future__ import annotations

from datetime import datetime

import click

from outlast.cli.common import client_options, client_session
from outlast.cli.output import note, table
from outlast.sdk.schedule_records import Schedule

HEADERS = ("ID", "TASK", "CRON", "TIMEZONE", "NEXT RUN", "ACTIVE", "SOURCE", "EXTERNAL ID")


def _time(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M %Z")


def schedule_row(s: Schedule) -> list[str]:
    active = "yes" if s.active else f"no ({s.inactive_reason or 'inactive'})"
    return [s.id, s.task, s.cron, s.timezone, _time(s.next_run), active, s.source,
            s.external_id or "-"]


def _echo_one(s: Schedule) -> None:
    """The id on stdout (for scripts), the rest on stderr."""
    click.echo(s.id)
    state = "active" if s.active else "inactive"
    note(f"{s.task}: {s.cron} ({s.description}) in {s.timezone}, {state}; "
         f"next run {_time(s.next_run)}")


@click.group()
def schedules() -> None:
    """Cron schedules: list them, create, delete, pause and resume."""


@schedules.command("list")
@click.option("--task", "task_id", metavar="TASK", help="Only schedules of this task.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@client_options
def list_schedules(task_id: str | None, limit: int, url: str | None,
                   api_key: str | None) -> None:
    """Every schedule, as a table."""
    with client_session(url, api_key) as client:
        found = client.schedules.list(task=task_id, limit=limit)
    if not found:
        note("no schedules")
        return
    click.echo(table(HEADERS, [schedule_row(s) for s in found]))


@schedules.command("create")
@click.argument("task_id", metavar="TASK")
@click.argument("cron", metavar="CRON")
@click.option("--timezone", "tz", default="UTC", show_default=True,
              help="IANA time zone the cron is read in, e.g. Europe/Paris.")
@click.option("--external-id", metavar="ID", help="Your own id, passed in the payload.")
@click.option("--deduplication-key", metavar="KEY",
              help="Create once: the same key again updates that schedule.")
@client_options
def create(task_id: str, cron: str, tz: str, external_id: str | None,
           deduplication_key: str | None, url: str | None, api_key: str | None) -> None:
    """Run TASK on CRON, e.g. outlast schedules create report '0 9 * * MON-FRI'."""
    with client_session(url, api_key) as client:
        made = client.schedules.create(task_id, cron, tz, external_id=external_id,
                                       deduplication_key=deduplication_key)
    _echo_one(made)


@schedules.command("delete")
@click.argument("schedule_id", metavar="ID")
@client_options
def delete(schedule_id: str, url: str | None, api_key: str | None) -> None:
    """Delete a schedule created by a call (declared ones follow the code)."""
    with client_session(url, api_key) as client:
        gone = client.schedules.delete(schedule_id)
    click.echo(gone.id)


@schedules.command("activate")
@click.argument("schedule_id", metavar="ID")
@client_options
def activate(schedule_id: str, url: str | None, api_key: str | None) -> None:
    """Resume a schedule from its next tick."""
    with client_session(url, api_key) as client:
        _echo_one(client.schedules.activate(schedule_id))


@schedules.command("deactivate")
@click.argument("schedule_id", metavar="ID")
@client_options
def deactivate(schedule_id: str, url: str | None, api_key: str | None) -> None:
    """Pause a schedule; no runs until it is activated."""
    with client_session(url, api_key) as client:
        _echo_one(client.schedules.deactivate(schedule_id))
