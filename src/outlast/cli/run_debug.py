"""``outlast runs debug RUN_ID``: reproduce a recorded run on this machine.

The run and its journal are read from the server (``outlast.testing.TestRuns.from_run``),
the project's tasks are imported here, and the run is replayed in this process: the
recorded operations return their recorded results (a step's body does not run again),
then the task goes on live under a fake clock (sleeps pass at once, children run here
too). A breakpoint in the task stops there; ``--pdb`` opens the debugger where the task
raised. Nothing is written to the server.
"""

from __future__ import annotations

import functools
import pdb
import sys
from collections.abc import Callable
from typing import Any

import click

from outlast.cli.common import client_options, client_session, project_config
from outlast.cli.output import status, table
from outlast.cli.project_tasks import load_project_tasks
from outlast.cli.render import log_line
from outlast.sdk.durable import HandBack, SuspendRun
from outlast.sdk.registry import default_registry
from outlast.sdk.task import Task
from outlast.testing import TestRuns

#: control signals that end an attempt without the task having failed
_SIGNALS = (SuspendRun, HandBack)


@click.command("debug")
@click.argument("run_id", metavar="ID")
@click.option("--pdb", "post_mortem", is_flag=True,
              help="Open pdb where the task raised (post-mortem).")
@client_options
def debug(run_id: str, post_mortem: bool, url: str | None, api_key: str | None) -> None:
    """Replay a recorded run locally with the project's code, then go on live."""
    load_project_tasks(project_config())
    with client_session(url, api_key) as client:
        env = TestRuns.from_run(run_id, client=client, registry=default_registry)
    with env:
        raised: list[BaseException] = []
        _catching(default_registry.get(env.retrieve(run_id).task), raised)
        run = env.run_until_final(run_id)
        click.echo(_operations(env, run_id))
        for line in env.logs(run_id):
            click.echo(log_line(line))
        click.echo(f"outcome: {status(run.status)}{_error(run.error)}")
        if post_mortem and raised:
            _post_mortem(raised[-1])
    if run.is_final and run.status != "COMPLETED":
        raise click.exceptions.Exit(1)


def _operations(env: TestRuns, run_id: str) -> str:
    """The local run's journal, each operation marked as replayed from the record or run
    live here."""
    loaded = env.loaded.get(run_id, 0)
    rows = [[f"#{e.seq}", e.kind, e.name, "recorded" if e.seq < loaded else "live",
             _short(e.result)] for e in env.journal(run_id)]
    return table(["SEQ", "KIND", "NAME", "FROM", "RESULT"], rows)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error(error: dict[str, Any] | None) -> str:
    return f" {error.get('type')}: {error.get('message')}" if error else ""


def _post_mortem(exc: BaseException) -> None:
    """pdb where ``exc`` was raised; on a terminal with line editing, else on the
    command's own streams (a pipe, a test)."""
    if sys.stdin.isatty():
        pdb.post_mortem(exc.__traceback__)
        return
    debugger = pdb.Pdb(stdin=sys.stdin, stdout=sys.stdout)
    debugger.reset()
    debugger.interaction(None, exc.__traceback__)


def _catching(task: Task[..., Any], raised: list[BaseException]) -> None:
    """Keep what the task raises (the attempt turns it into the run's error, and the
    traceback with it), so that ``--pdb`` can open it."""
    fn: Callable[..., Any] = task.fn
    if task.is_async:
        @functools.wraps(fn)
        async def wrapped_async(*args: Any) -> Any:
            try:
                return await fn(*args)
            except _SIGNALS:
                raise
            except BaseException as exc:
                raised.append(exc)
                raise
        task.fn = wrapped_async
        return

    @functools.wraps(fn)
    def wrapped(*args: Any) -> Any:
        try:
            return fn(*args)
        except _SIGNALS:
            raise
        except BaseException as exc:
            raised.append(exc)
            raise
    task.fn = wrapped
