"""``outlast versions``: which versions of the code run, promote one, retire the old.

``list`` answers the question before stopping old workers: a version that is not current
and has no unfinished run pinned to it is "safe to stop".
"""

from __future__ import annotations

import click

from outlast.cli.common import client_options, client_session
from outlast.cli.output import note, table, when
from outlast.core.records import VersionRecord

HEADERS = ("VERSION", "STATE", "SOURCE", "TASKS", "LIVE WORKERS", "PINNED RUNS",
           "SAFE TO STOP")
WORKER_HEADERS = ("WORKER", "HOST", "PID", "CONCURRENCY", "STARTED", "LAST HEARTBEAT")


def pinned_text(record: VersionRecord) -> str:
    """``3 (2 QUEUED, 1 WAITING)``: the unfinished runs pinned to a version."""
    total = sum(record.pinned_runs.values())
    if not total:
        return "0"
    return f"{total} (" + ", ".join(f"{n} {s}" for s, n in record.pinned_runs.items()) + ")"


def version_row(v: VersionRecord) -> list[str]:
    return [v.version, v.state, v.source, str(len(v.tasks)), str(v.live_workers),
            pinned_text(v), "yes" if v.safe_to_stop else "no"]


def _echo_detail(v: VersionRecord) -> None:
    click.echo(table(HEADERS, [version_row(v)]))
    click.echo(f"created {when(v.created_at)}, promoted {when(v.promoted_at)}, "
               f"retired {when(v.retired_at)}")
    click.echo(f"tasks: {', '.join(v.tasks) or '-'}")
    if v.workers:
        click.echo(table(WORKER_HEADERS, [
            [w.id, w.hostname, str(w.pid), str(w.concurrency), when(w.started_at),
             when(w.heartbeat_at)] for w in v.workers]))
    else:
        note("no live workers")


@click.group()
def versions() -> None:
    """Versions of the code: which is current, which still have runs, promote and retire."""


@versions.command("list")
@client_options
def list_versions(url: str | None, api_key: str | None) -> None:
    """Every version, newest first, and whether its workers are safe to stop."""
    with client_session(url, api_key) as client:
        found = client.versions.list()
    if not found:
        note("no versions: a version appears when a worker of that code starts")
        return
    click.echo(table(HEADERS, [version_row(v) for v in found]))


@versions.command("show")
@click.argument("version")
@client_options
def show(version: str, url: str | None, api_key: str | None) -> None:
    """VERSION with its tasks and live workers."""
    with client_session(url, api_key) as client:
        _echo_detail(client.versions.retrieve(version))


@versions.command("promote")
@click.argument("version")
@client_options
def promote(version: str, url: str | None, api_key: str | None) -> None:
    """Make VERSION current: new runs go to it; the current one drains."""
    with client_session(url, api_key) as client:
        _echo_detail(client.versions.promote(version))


@versions.command("retire")
@click.argument("version")
@client_options
def retire(version: str, url: str | None, api_key: str | None) -> None:
    """Retire VERSION: refused while it is current or unfinished runs are pinned to it."""
    with client_session(url, api_key) as client:
        _echo_detail(client.versions.retire(version))
