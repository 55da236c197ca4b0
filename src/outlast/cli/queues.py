"""``outlast queues``: list queues, pause and resume them, change their limits at run time."""

from __future__ import annotations

from typing import Any

import click

from outlast.cli.common import client_options, client_session
from outlast.cli.output import note, table
from outlast.core.records import QueueRecord

HEADERS = ("QUEUE", "QUEUED", "RUNNING", "LIMIT", "TOTAL", "RATE", "KEY RATE", "STATE")
_NONE = ("none", "unlimited", "null")


def _show(value: Any, name: str, record: QueueRecord) -> str:
    text = "-" if value is None else str(value)
    return text + ("*" if name in record.overrides else "")


def queue_row(q: QueueRecord) -> list[str]:
    limits = [_show(q.get(n), n, q) for n in
              ("concurrency_limit", "total_limit", "rate_limit", "key_rate_limit")]
    return [q.name, str(q.queued), str(q.running), *limits,
            "paused" if q.paused else "active"]


def _echo_one(q: QueueRecord) -> None:
    click.echo(q.name)
    note(table(HEADERS, [queue_row(q)]))


@click.group()
def queues() -> None:
    """Queues: counts and limits, pause and resume, limits changed without a restart."""


@queues.command("list")
@client_options
def list_queues(url: str | None, api_key: str | None) -> None:
    """Every queue with its queued and running runs (* marks an operator's override)."""
    with client_session(url, api_key) as client:
        found = client.queues.list()
        env = client.queues.environment_limit()
    if not found:
        note("no queues")
        return
    click.echo(table(HEADERS, [queue_row(q) for q in found]))
    if env.concurrency_limit is not None:
        note(f"environment limit: {env.running}/{env.concurrency_limit} executing")


@queues.command("pause")
@click.argument("name")
@client_options
def pause(name: str, url: str | None, api_key: str | None) -> None:
    """Start nothing new from NAME (running runs finish; TTLs still expire runs)."""
    with client_session(url, api_key) as client:
        _echo_one(client.queues.pause(name))


@queues.command("resume")
@click.argument("name")
@client_options
def resume(name: str, url: str | None, api_key: str | None) -> None:
    """Start runs from NAME again."""
    with client_session(url, api_key) as client:
        _echo_one(client.queues.resume(name))


def _count(value: str | None, option: str) -> int | None:
    if value is None or value.lower() in _NONE:
        return None
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(f"expected a number or 'none', got {value!r}",
                                 param_hint=option) from None


@queues.command("set-limit")
@click.argument("name")
@click.argument("limit", required=False)
@click.option("--total", help="Cap across all concurrency keys (a number or 'none').")
@click.option("--rate", help="Starts per window, e.g. 100/m (or 'none').")
@click.option("--key-rate", help="Starts per window per concurrency key, e.g. 10/s.")
@click.option("--reset", is_flag=True, help="Drop every override: back to the code's limits.")
@client_options
def set_limit(name: str, limit: str | None, total: str | None, rate: str | None,
              key_rate: str | None, reset: bool, url: str | None, api_key: str | None) -> None:
    """Override NAME's concurrency LIMIT (a number or 'none') and other limits at run time.

    outlast queues set-limit api-calls 10 --rate 100/m
    """
    changes: dict[str, Any] = {}
    if limit is not None:
        changes["concurrency_limit"] = _count(limit, "LIMIT")
    if total is not None:
        changes["total_limit"] = _count(total, "--total")
    for option, value in (("rate_limit", rate), ("key_rate_limit", key_rate)):
        if value is not None:
            changes[option] = None if value.lower() in _NONE else value
    if not changes and not reset:
        raise click.UsageError("give a LIMIT, --total, --rate, --key-rate or --reset")
    drop = ["concurrency_limit", "total_limit", "rate_limit", "key_rate_limit"] if reset else None
    with client_session(url, api_key) as client:
        _echo_one(client.queues.update(name, reset=drop, **changes))
