"""The ``outlast`` command: one group, one module per command (group).

Every error Outlast raises on purpose becomes one red ``error:`` line and an exit code
(2 for bad input, 1 otherwise); a traceback is reserved for real bugs.
"""

from __future__ import annotations

import importlib
import sqlite3
import sys
from typing import TYPE_CHECKING, Any, TypeGuard

import click

from outlast import __version__
from outlast.cli.output import fail
from outlast.errors import OutlastError, ValidationError

if TYPE_CHECKING:
    import httpx

#: every command, in the order people need them; each is defined under its own name in the
#: module of that name (``outlast.cli.worker.worker``), imported when the command runs or
#: help lists it: ``outlast worker`` does not wait for the server ``outlast dev`` runs or
#: the HTTP client ``outlast trigger`` uses to load
COMMANDS = ("init", "dev", "server", "worker", "deploy", "migrate", "prune", "trigger", "runs",
            "bulk", "schedules", "queues", "versions", "tokens", "keys", "alerts")


class OutlastGroup(click.Group):
    """Turns expected failures into a one-line message instead of a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module = importlib.import_module(f"outlast.cli.{cmd_name}")
            self.add_command(getattr(module, cmd_name))
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            fail(exc.message, 2)
        except OutlastError as exc:
            fail(exc.message, 1)
        except Exception as exc:
            if _unreachable(exc):
                fail(f"cannot reach the Outlast server{_address(exc)} ({exc}); is `outlast dev` "
                     "or `outlast server` running?", 1)
            if _is_database_error(exc):
                fail(f"database error: {exc} (has `outlast migrate` been run?)", 1)
            raise


def _unreachable(exc: Exception) -> TypeGuard[httpx.TransportError]:
    """An HTTP client's connection error (only a command that made a client has one)."""
    httpx = sys.modules.get("httpx")
    return httpx is not None and isinstance(exc, httpx.TransportError)


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


def main() -> None:
    cli(prog_name="outlast")


if __name__ == "__main__":
    main()
