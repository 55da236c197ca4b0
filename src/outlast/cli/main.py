"""The ``outlast`` command: one group, one module per command (group).

Every error Outlast raises on purpose becomes one red ``error:`` line and an exit code
(2 for bad input, 1 otherwise); a traceback is reserved for real bugs.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import click
import httpx

from outlast import __version__
from outlast.cli import (
    alerts,
    bulk,
    deploy,
    dev,
    init,
    keys,
    migrate,
    prune,
    queues,
    runs,
    schedules,
    server,
    tokens,
    trigger,
    versions,
    worker,
)
from outlast.cli.output import fail
from outlast.errors import OutlastError, ValidationError


class OutlastGroup(click.Group):
    """Turns expected failures into a one-line message instead of a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # the order they were added: the order people need them

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            fail(exc.message, 2)
        except OutlastError as exc:
            fail(exc.message, 1)
        except httpx.TransportError as exc:
            fail(f"cannot reach the Outlast server{_address(exc)} ({exc}); is `outlast dev` "
                 "or `outlast server` running?", 1)
        except Exception as exc:
            if _is_database_error(exc):
                fail(f"database error: {exc} (has `outlast migrate` been run?)", 1)
            raise


def _address(exc: httpx.TransportError) -> str:
    try:
        url = exc.request.url  # raises RuntimeError when the error carries no request
    except RuntimeError:
        return ""
    return f" at {url.scheme}://{url.netloc.decode()}"


def _is_database_error(exc: Exception) -> bool:
    return isinstance(exc, sqlite3.Error) or type(exc).__module__.startswith("psycopg")


@click.group(cls=OutlastGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="outlast")
def cli() -> None:
    """Outlast: durable background tasks for Python.

    Start with `outlast init` and `outlast dev`, then trigger a task from another
    terminal: outlast trigger hello-world '{"name": "Ada"}' --wait
    """


for _command in (
    init.init,
    dev.dev,
    server.server,
    worker.worker,
    deploy.deploy,
    migrate.migrate,
    prune.prune,
    trigger.trigger,
    runs.runs,
    bulk.bulk,
    schedules.schedules,
    queues.queues,
    versions.versions,
    tokens.tokens,
    keys.keys,
    alerts.alerts,
):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="outlast")


if __name__ == "__main__":
    main()
