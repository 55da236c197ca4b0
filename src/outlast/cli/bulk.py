"""``outlast bulk``, and ``outlast runs cancel|replay`` given a filter instead of a run id.

A filtered cancel or replay counts the runs first and asks before acting (``--yes``
skips the question, ``--dry-run`` stops after the count); then it creates a bulk action,
which the server's upkeep works through in batches, and prints its progress until it is
done (``--no-wait`` prints its id and returns).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click

from outlast.cli.common import client_options, client_session
from outlast.cli.output import fail, note, status, table, when
from outlast.core.records import BulkAction
from outlast.durations import parse_duration
from outlast.engine.statuses import RunStatus
from outlast.sdk.client import Client

_STATUSES = [s.value for s in RunStatus]
POLL = 0.5
F = Callable[..., Any]


def filter_options(fn: F) -> F:
    """The filters of ``outlast runs list``, plus ``--since``/``--until`` and the
    ``--dry-run``, ``--yes`` and ``--no-wait`` of a filtered action."""
    for option in reversed([
        click.option("--status", "statuses", multiple=True, metavar="STATUS",
                     type=click.Choice(_STATUSES, case_sensitive=False),
                     help="Only runs in this status (repeatable)."),
        click.option("--task", "task_id", metavar="TASK", help="Only runs of this task."),
        click.option("--tag", metavar="TAG", help="Only runs with this tag."),
        click.option("--since", metavar="DURATION",
                     help="Only runs created in the last DURATION (e.g. 24h, 30m)."),
        click.option("--until", metavar="DURATION",
                     help="Only runs created more than DURATION ago."),
        click.option("--version", metavar="V", help="Only runs pinned to this version."),
        click.option("--dry-run", is_flag=True, help="Count the runs it would act on; "
                     "change nothing."),
        click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation."),
        click.option("--no-wait", is_flag=True, help="Print the bulk action's id and return "
                     "instead of showing its progress."),
    ]):
        fn = option(fn)
    return fn


def selection(opts: dict[str, Any]) -> dict[str, Any]:
    """The ``runs.list`` filters the options give (times relative to now)."""
    now = time.time()
    chosen: dict[str, Any] = {
        "status": [s.upper() for s in opts.get("statuses") or ()] or None,
        "task": opts.get("task_id"), "tag": opts.get("tag"), "version": opts.get("version"),
        "created_after": now - parse_duration(opts["since"], "since")
        if opts.get("since") else None,
        "created_before": now - parse_duration(opts["until"], "until")
        if opts.get("until") else None,
    }
    return {k: v for k, v in chosen.items() if v is not None}


def no_filter_with_an_id(opts: dict[str, Any]) -> None:
    """A run id and a filter together: which one was meant is not clear, so neither."""
    if selection(opts):
        fail("give a run id or a filter, not both", 2)


def act_on_filter(action: str, opts: dict[str, Any], payload: Any = ...) -> None:
    """Count, confirm, create, follow: ``outlast runs cancel|replay --status …``."""
    wanted = selection(opts)
    if not wanted:
        fail(f"give a run id, or a filter (--status, --task, --tag, --since, …) to {action} "
             "every run it lists", 2)
    with client_session(opts.get("url"), opts.get("api_key")) as client:
        total = client.bulk_actions.count(**wanted)
        click.echo(f"{total} run{'' if total == 1 else 's'} match {_describe(wanted)}")
        if opts.get("dry_run") or total == 0:
            return
        if not opts.get("yes"):
            click.confirm(f"{action.capitalize()} {'it' if total == 1 else f'all {total}'}?",
                          abort=True, err=True)
        if action == "cancel":
            created = client.bulk_actions.cancel(**wanted)
        else:
            created = client.bulk_actions.replay(payload=payload, **wanted)
        note(f"bulk action {created.id} created")
        if opts.get("no_wait"):
            click.echo(created.id)
            return
        done = follow(client, created.id)
    _summary(done)


def follow(client: Client, action_id: str) -> BulkAction:
    """Print a progress line each time the count moves; the action once final."""
    shown = -1
    while True:
        action = client.bulk_actions.retrieve(action_id)
        if action.processed != shown and action.phase == "process":
            shown = action.processed
            note(f"  {progress(action)}")
        if action.is_final:
            return action
        time.sleep(POLL)


def progress(action: BulkAction) -> str:
    return (f"{action.processed}/{action.total} processed ({action.succeeded} succeeded, "
            f"{action.skipped} skipped, {action.failed} failed)")


def _summary(action: BulkAction) -> None:
    click.echo(f"{action.id} {status(action.status)}: {progress(action)}")
    for error in action.errors:
        note(f"  {error['run_id']}: {error['message']}")
    if action.status != "COMPLETED" or action.failed:
        raise click.exceptions.Exit(1)


def _describe(wanted: dict[str, Any]) -> str:
    parts = []
    for key, value in wanted.items():
        if key.startswith("created_"):
            value = when(value)
        parts.append(f"{key}={','.join(value) if isinstance(value, list) else value}")
    return " ".join(parts)


@click.group()
def bulk() -> None:
    """Bulk actions: list them, show one's progress, abort one."""


@bulk.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@client_options
def list_actions(limit: int, url: str | None, api_key: str | None) -> None:
    """The newest bulk actions, as a table."""
    with client_session(url, api_key) as client:
        actions = client.bulk_actions.list(limit=limit)
    if not actions:
        note("no bulk actions yet")
        return
    rows = [[a.id, a.action, status(a.status), f"{a.processed}/{a.total}", str(a.succeeded),
             str(a.skipped), str(a.failed), when(a.created_at)] for a in actions]
    click.echo(table(["ID", "ACTION", "STATUS", "DONE", "OK", "SKIPPED", "FAILED", "CREATED"],
                     rows))


@bulk.command("show")
@click.argument("action_id", metavar="ID")
@click.option("--wait", is_flag=True, help="Show its progress until it is done.")
@client_options
def show(action_id: str, wait: bool, url: str | None, api_key: str | None) -> None:
    """One bulk action: filter, status, counts and its first errors."""
    with client_session(url, api_key) as client:
        action = follow(client, action_id) if wait else client.bulk_actions.retrieve(action_id)
    click.echo(f"{action.id}  {action.action}  {status(action.status)}")
    what = _describe(action.filter) if action.filter is not None else "the given run ids"
    click.echo(f"runs:      {what}")
    click.echo(f"progress:  {progress(action)}")
    click.echo(f"created:   {when(action.created_at)}   finished: {when(action.finished_at)}")
    if action.message:
        click.echo(f"message:   {action.message}")
    for error in action.errors:
        click.echo(f"  {error['run_id']}: {error['message']}")


@bulk.command("abort")
@click.argument("action_id", metavar="ID")
@client_options
def abort(action_id: str, url: str | None, api_key: str | None) -> None:
    """Stop a bulk action after its batch in flight."""
    with client_session(url, api_key) as client:
        action = client.bulk_actions.abort(action_id)
    click.echo(f"{action.id} {status(action.status)}: {progress(action)}")
