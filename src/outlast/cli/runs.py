"""``outlast runs``: look at runs and act on them from a terminal."""

from __future__ import annotations

import time
from typing import Any

import click

from outlast.cli import bulk, run_debug
from outlast.cli.common import client_options, client_session
from outlast.cli.output import note, status, table
from outlast.cli.render import RUN_HEADERS, log_line, run_detail, run_row
from outlast.cli.trigger import parse_payload
from outlast.core.records import LogLine
from outlast.engine.statuses import RunStatus
from outlast.sdk import calls

_STATUSES = [s.value for s in RunStatus]


@click.group()
def runs() -> None:
    """List, inspect, cancel, replay, resume and move runs."""


@runs.command("list")
@click.option("--status", "statuses", multiple=True, metavar="STATUS",
              type=click.Choice(_STATUSES, case_sensitive=False),
              help="Only runs in this status (repeatable).")
@click.option("--task", "task_id", metavar="TASK", help="Only runs of this task.")
@click.option("--tag", metavar="TAG", help="Only runs with this tag.")
@click.option("--parent", "parent_id", metavar="ID", help="Only runs this run triggered.")
@click.option("--root", "root_id", metavar="ID",
              help="Only runs below this root run (its children, theirs, and so on).")
@click.option("--idempotency-key", metavar="KEY", help="Only runs holding this key.")
@click.option("--version", metavar="V", help="Only runs pinned to this version.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@client_options
def list_runs(statuses: tuple[str, ...], task_id: str | None, tag: str | None,
              parent_id: str | None, root_id: str | None, idempotency_key: str | None,
              version: str | None, limit: int, url: str | None, api_key: str | None) -> None:
    """The newest runs, as a table."""
    with client_session(url, api_key) as client:
        found = client.runs.list(status=[s.upper() for s in statuses] or None, task=task_id,
                                 tag=tag, parent_id=parent_id, root_id=root_id,
                                 idempotency_key=idempotency_key, version=version,
                                 limit=limit)
    if not found:
        note("no runs match")
        return
    click.echo(table(RUN_HEADERS, [run_row(r) for r in found]))


@runs.command("show")
@click.argument("run_id", metavar="ID")
@click.option("--full", is_flag=True,
              help="Print a large payload or output whole (else its size and URL).")
@client_options
def show(run_id: str, full: bool, url: str | None, api_key: str | None) -> None:
    """Status, attempts, timings, payload, output and error of one run."""
    with client_session(url, api_key) as client:
        run = client.runs.retrieve(run_id)
        attempts = client.runs.attempts(run_id)
    click.echo(run_detail(run, attempts, full))


@runs.command("cancel")
@click.argument("run_id", metavar="[ID]", required=False)
@bulk.filter_options
@client_options
def cancel(run_id: str | None, url: str | None, api_key: str | None, **opts: Any) -> None:
    """Cancel a run that has not finished; or, given a filter instead of an ID, every run
    it lists (counted first and confirmed; runs already final are skipped)."""
    if run_id is None:
        bulk.act_on_filter("cancel", opts | {"url": url, "api_key": api_key})
        return
    bulk.no_filter_with_an_id(opts)
    with client_session(url, api_key) as client:
        run = client.runs.cancel(run_id)
    click.echo(f"{run.id} {status(run.status)}")


@runs.command("resume")
@click.argument("run_id", metavar="ID")
@click.option("--version", metavar="V", help="Also move it to this version's workers.")
@client_options
def resume(run_id: str, version: str | None, url: str | None, api_key: str | None) -> None:
    """Queue a PARKED run again, once code that matches its history is deployed."""
    with client_session(url, api_key) as client:
        run = client.runs.resume(run_id, version)
    click.echo(f"{run.id} {status(run.status)}" + (f" (version {run.version})"
                                                   if run.version else ""))


@runs.command("move")
@click.argument("run_id", metavar="ID")
@click.option("--version", metavar="V", required=True,
              help="The version whose workers run it from now on.")
@client_options
def move(run_id: str, version: str, url: str | None, api_key: str | None) -> None:
    """Pin an unfinished run to another version (a PARKED run is also queued)."""
    with client_session(url, api_key) as client:
        run = client.runs.move(run_id, version)
    click.echo(f"{run.id} {status(run.status)} (version {run.version})")


@runs.command("replay")
@click.argument("run_id", metavar="[ID]", required=False)
@click.argument("payload", metavar="[JSON]", required=False)
@click.option("--payload", "new_payload", metavar="JSON",
              help="With a filter: the payload of every new run (default: each run's own).")
@bulk.filter_options
@client_options
def replay(run_id: str | None, payload: str | None, new_payload: str | None, url: str | None,
           api_key: str | None, **opts: Any) -> None:
    """Start a new run of the same task, with the same (or the given) payload; or, given a
    filter instead of an ID, one of every run it lists (counted first and confirmed)."""
    if run_id is None:
        given = ... if new_payload is None else parse_payload(new_payload)
        bulk.act_on_filter("replay", opts | {"url": url, "api_key": api_key}, given)
        return
    bulk.no_filter_with_an_id(opts)
    with client_session(url, api_key) as client:
        if payload is None:
            handle = client.runs.replay(run_id)
        else:
            handle = client.runs.replay(run_id, parse_payload(payload))
    click.echo(handle.id)


runs.add_command(run_debug.debug)


@runs.command("logs")
@click.argument("run_id", metavar="ID")
@click.option("--follow", "-f", is_flag=True,
              help="Keep printing new lines until the run is final.")
@client_options
def logs(run_id: str, follow: bool, url: str | None, api_key: str | None) -> None:
    """The run's log lines, oldest first."""
    with client_session(url, api_key) as client:
        if follow:
            follow_logs(client, run_id)
            return
        lines = client.runs.logs(run_id)
    if not lines:
        note("no logs yet")
    for line in lines:
        click.echo(log_line(line))


FOLLOW_POLL = 0.5


def follow_logs(client: Any, run_id: str) -> None:
    """Print new lines as they come (polling); stop once the run is final and drained."""
    after = 0
    while True:
        final = client.runs.retrieve(run_id).is_final  # before reading: no line is missed
        data = client.send(calls.run_part(run_id, "logs", after))["data"]
        lines = [LogLine.from_json(line) for line in data]
        for line in lines:
            click.echo(log_line(line))
            after = max(after, line.id)
        if final and not lines:
            return
        if not lines:
            time.sleep(FOLLOW_POLL)
