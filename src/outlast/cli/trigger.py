"""``outlast trigger``: start a run by task id, optionally waiting for its result.

It goes through the same client as application code, so it exercises the real path
(options checked client side, payload validated by the server) and works against a
local ``outlast dev`` or a remote server alike. A task the server does not know while it
is still starting (``/readyz`` answers 503 until ``outlast dev``'s worker registered the
tasks) is triggered again once the server is ready, so a trigger typed right after
``outlast dev`` started does not fail.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click
import httpx

from outlast.cli.common import client_options, client_session
from outlast.cli.output import fail, note, status, to_json
from outlast.errors import TaskNotFoundError, ValidationError
from outlast.sdk.client import Client
from outlast.sdk.handles import Run, RunHandle
from outlast.sdk.transports import API_PATH

#: seconds a trigger of an unknown task waits for a starting server to become ready
READY_WAIT = 30.0
READY_POLL = 0.2


def parse_payload(text: str | None) -> Any:
    """The JSON payload argument; ``-`` reads it from stdin, nothing means null."""
    if text is None:
        return None
    if text == "-":
        text = sys.stdin.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"the payload is not valid JSON ({exc.msg} at line {exc.lineno} "
                              f"column {exc.colno}): {text[:80]!r}") from None


def trigger_options(delay: str | None, idempotency_key: str | None, tags: tuple[str, ...],
                    queue: str | None, priority: int | None,
                    version: str | None = None) -> dict[str, Any]:
    given = {"delay": delay, "idempotency_key": idempotency_key, "tags": list(tags) or None,
             "queue": queue, "priority": priority, "version": version}
    return {k: v for k, v in given.items() if v is not None}


@click.command(short_help="Trigger a task by id, optionally waiting.")
@click.argument("task_id", metavar="TASK")
@click.argument("payload", metavar="[JSON]", required=False)
@click.option("--wait", is_flag=True, help="Wait for the run to finish and print its output.")
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="Seconds --wait waits before giving up.")
@click.option("--delay", metavar="DURATION", help="Run no sooner than this, e.g. 5m or 1h.")
@click.option("--idempotency-key", metavar="KEY", help="Same key, same run: no duplicate.")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Tag the run (repeatable).")
@click.option("--queue", metavar="NAME", help="Run in this queue instead of the task's.")
@click.option("--priority", type=int, help="Higher starts first among queued runs.")
@click.option("--version", metavar="V",
              help="Pin the run to this version now: only its workers run it.")
@client_options
def trigger(task_id: str, payload: str | None, wait: bool, timeout: float, delay: str | None,
            idempotency_key: str | None, tags: tuple[str, ...], queue: str | None,
            priority: int | None, version: str | None, url: str | None,
            api_key: str | None) -> None:
    """Trigger TASK with an optional JSON payload ('-' reads it from stdin).

    Prints the run id; with --wait, then prints the run's output as JSON, and exits 1
    if the run did not complete.
    """
    value = parse_payload(payload)
    options = trigger_options(delay, idempotency_key, tags, queue, priority, version)
    with client_session(url, api_key) as client:
        handle = trigger_when_ready(client, task_id, value, options)
        click.echo(handle.id)
        if not handle.created:
            note(f"(an existing run was returned for idempotency key {idempotency_key!r})")
        if wait:
            report(wait_for(client, handle.id, timeout))


def trigger_when_ready(client: Client, task_id: str, value: Any,
                       options: dict[str, Any]) -> RunHandle:
    """Trigger; a task unknown to a server that was not ready yet is tried once more."""
    try:
        return client.tasks.trigger(task_id, value, **options)
    except TaskNotFoundError:
        if not wait_ready(client, READY_WAIT):
            raise
    return client.tasks.trigger(task_id, value, **options)


def ready_url(api_base: httpx.URL) -> httpx.URL:
    """The server's ``/readyz``, beside its API under the server URL's own path prefix
    (``http://host/outlast`` → ``http://host/outlast/readyz``): an absolute join would
    drop the prefix and ask whatever else answers at ``http://host/readyz``."""
    path = api_base.path.rstrip("/")
    if path.endswith(API_PATH):
        path = path[: -len(API_PATH)]
    return api_base.copy_with(path=path + "/readyz")


def wait_ready(client: Client, timeout: float) -> bool:
    """True once the server's ``/readyz`` says ready; False at once for a server without
    one (or an in-process client), and after ``timeout`` for one that stays not ready."""
    http = getattr(client.transport, "http", None)
    if not isinstance(http, httpx.Client):
        return False
    url = ready_url(http.base_url)
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            answer = http.get(url)
        except httpx.TransportError:
            return False
        if answer.status_code != 503:
            return answer.status_code == 200
        if time.monotonic() >= deadline:
            note(f"the server is still not ready after {timeout:g}s: "
                 f"{_reason(answer)}")
            return False
        if not told:
            note("the server is starting: waiting for its worker to register the tasks")
            told = True
        time.sleep(READY_POLL)


def _reason(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("reason") or "no reason given")
    except ValueError:
        return "no reason given"


def wait_for(client: Client, run_id: str, timeout: float) -> Run:
    try:
        return client.runs.poll(run_id, timeout=timeout, interval=0.2)
    except TimeoutError:
        run = client.runs.retrieve(run_id)
        fail(f"run {run_id} is still {run.status} after {timeout:g}s "
             f"(follow it with `outlast runs show {run_id}`)")


def report(run: Run) -> None:
    """The output on stdout when the run completed; otherwise what went wrong, exit 1."""
    if run.ok:
        click.echo(to_json(run.output))
        return
    error = run.error or {}
    stack = error.get("stack")
    if stack:
        click.echo(stack.rstrip(), err=True)
    message = error.get("message") or "no error recorded"
    note(f"run {run.id} ended {status(run.status)} after {run.attempts} attempt(s)")
    fail(f"{error.get('type', run.status)}: {message}")
