"""Triggers from Django code: in the request's transaction, or after it commits.

``trigger`` writes the run with Django's own connection to the database that holds
Outlast's tables, inside the current ``atomic()`` block (``ATOMIC_REQUESTS`` makes every
view one): the run exists if and only if that block commits, as the rows the view wrote.

``trigger_on_commit`` is for an Outlast database Django does not hold: it triggers once
Django's transaction has committed (``transaction.on_commit``), through the configured
client. A crash, or an unreachable Outlast, between that commit and the trigger loses the
run: at most once, where ``trigger`` is exactly once.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from outlast.errors import ConfigError
from outlast.sdk.facade import tasks
from outlast.sdk.handles import RunHandle
from outlast.sdk.task import Task

from . import conf


def trigger(task: Task[..., Any] | str, payload: Any = None, *, using: str | None = None,
            **options: Any) -> RunHandle:
    """Trigger ``task`` (a task or its id) in Django's transaction on database ``using``
    (default: ``settings.OUTLAST['DATABASE']``). Outside an ``atomic()`` block the run is
    committed at once, like a model's ``save()``. ``options`` as ``Task.trigger`` takes
    them (``delay``, ``idempotency_key``, ``tags``…)."""
    alias = using or _outlast_database()
    connection = connections[alias]
    if connection.in_atomic_block:
        connection.validate_no_broken_transaction()  # Django's own error for a failed block
        return _send(task, payload, connection, options)
    with transaction.atomic(using=alias):
        return _send(task, payload, connection, options)


def trigger_on_commit(task: Task[..., Any] | str, payload: Any = None, *,
                      using: str | None = None, robust: bool = False,
                      **options: Any) -> None:
    """Trigger ``task`` once the transaction on Django's database ``using`` (default:
    ``"default"``) commits; nothing if it rolls back; at once outside ``atomic()``.

    At most once: a crash between the commit and the trigger loses the run. ``robust``
    as Django's ``on_commit`` takes it: True logs a failed trigger and goes on, False
    (the default) raises it from the code that committed."""
    _check_task(task)

    def send() -> None:
        if isinstance(task, str):
            tasks.trigger(task, payload, **options)
        else:
            task.trigger(payload, **options)

    transaction.on_commit(send, using=using or DEFAULT_DB_ALIAS, robust=robust)


def _send(task: Task[..., Any] | str, payload: Any, connection: BaseDatabaseWrapper,
          options: dict[str, Any]) -> RunHandle:
    _check_task(task)
    connection.ensure_connection()
    raw = connection.connection  # the driver's: a psycopg or sqlite3 connection
    if isinstance(task, str):
        return tasks.trigger(task, payload, connection=raw, **options)
    return task.trigger(payload, connection=raw, **options)


def _check_task(task: object) -> None:
    if not isinstance(task, Task | str):
        raise TypeError(f"trigger takes a task or a task id, got {type(task).__name__}")


def _outlast_database() -> str:
    alias = conf.read().database
    if alias is None:
        raise ConfigError(
            "trigger() writes the run through the Django database that holds Outlast's "
            "tables: set settings.OUTLAST['DATABASE'] (or pass using=); when Outlast's "
            "database is another one, use trigger_on_commit()")
    return alias
