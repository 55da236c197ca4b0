"""Project-wide lifecycle hooks and middleware: ``outlast.hooks``.

Declared once for every task of the project, in a module the worker imports::

    from outlast import hooks

    @hooks.on_failure
    def page_someone(payload, error, ctx): ...

    @hooks.middleware
    def with_db(payload, ctx, next):
        with connect() as db:
            ctx.locals.set(DB, db)
            return next()

or in ``outlast.toml`` by import path (``[hooks] on_failure = ["myapp.alerts:notify"]``),
which the worker imports at start (``declare``). A task's own hooks (``@task(on_failure=
...)``) run beside these; the order, the arguments and what each may return are in the
table of the "Lifecycle hooks and middleware" guide, and the runner is
``outlast.worker.lifecycle``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from outlast.core.hook_kinds import KINDS
from outlast.errors import ConfigError

Hook = Callable[..., Any]
F = TypeVar("F", bound=Callable[..., Any])



@dataclass(frozen=True)
class WaitInfo:
    """The wait an ``on_wait`` / ``on_resume`` hook is called around.

    ``kind``: "sleep" (``wait.sleep``/``wait.until``), "token" (``wait.for_token``) or
    "task" (``trigger_and_wait`` and its batches). ``name``: the journal's name for it
    (the token id, the child task). ``seq``: its place in the run's journal.
    ``in_process``: a short wait the attempt sits out in its process, as opposed to one
    that suspends the run (the attempt ends; the run resumes in a new process).
    """

    kind: str
    name: str
    seq: int
    in_process: bool


#: journal kinds that wait, and what ``WaitInfo.kind`` calls them
WAIT_KINDS = {"sleep": "sleep", "wait_token": "token", "trigger_wait": "task"}

_in_code: dict[str, list[Hook]] = {kind: [] for kind in KINDS}
_in_config: dict[str, list[Hook]] = {kind: [] for kind in KINDS}
#: how many project-wide hooks there are, of every kind: while none, an attempt need not
#: ask kind by kind (``worker.lifecycle``)
_total = 0


def _counted() -> None:
    global _total
    _total = sum(len(_in_code[kind]) + len(_in_config[kind]) for kind in KINDS)


def _add(kind: str, fn: F) -> F:
    if not callable(fn):
        raise ConfigError(f"outlast.hooks.{kind} takes a function, got {fn!r}")
    _in_code[kind].append(fn)
    _counted()
    return fn


def middleware(fn: F) -> F:
    """Wrap every attempt of every task: ``fn(payload, ctx, next)`` calls ``next()``."""
    return _add("middleware", fn)


def init(fn: F) -> F:
    """Before every attempt of every task: ``fn(payload, ctx)``."""
    return _add("init", fn)


def on_start(fn: F) -> F:
    """When every attempt starts: ``fn(payload, ctx)``."""
    return _add("on_start", fn)


def on_wait(fn: F) -> F:
    """When a run starts to wait: ``fn(payload, wait, ctx)`` (``wait``: a ``WaitInfo``)."""
    return _add("on_wait", fn)


def on_resume(fn: F) -> F:
    """When a run goes on after a wait: ``fn(payload, wait, ctx)``."""
    return _add("on_resume", fn)


def cleanup(fn: F) -> F:
    """After every attempt, however it ended: ``fn(payload, ctx)``."""
    return _add("cleanup", fn)


def handle_error(fn: F) -> F:
    """Asked when a task has no ``handle_error`` of its own (or it returned None):
    ``fn(payload, error, ctx)`` → ``RetryDecision`` or None."""
    return _add("handle_error", fn)


def on_success(fn: F) -> F:
    """When a run completes: ``fn(payload, output, ctx)``."""
    return _add("on_success", fn)


def on_failure(fn: F) -> F:
    """When a run ends in any failed state: ``fn(payload, error, ctx)``."""
    return _add("on_failure", fn)


def on_complete(fn: F) -> F:
    """When a run reaches any final state: ``fn(payload, result, ctx)`` with ``result``
    a ``TaskRunResult`` (``ok``, ``status``, ``output``, ``error``)."""
    return _add("on_complete", fn)


def registered(kind: str) -> tuple[Hook, ...]:
    """The project's hooks of ``kind``: those of ``outlast.toml``, then those in code."""
    return (*_in_config[kind], *_in_code[kind])


def kinds_in_use() -> set[str]:
    return {kind for kind in KINDS if registered(kind)}


def clear() -> None:
    """Forget every project-wide hook (for tests that declare their own)."""
    for kind in KINDS:
        _in_code[kind].clear()
        _in_config[kind].clear()
    _counted()


def declare(declared: Mapping[str, Sequence[str]], where: str = "[hooks]") -> None:
    """Register the hooks of ``outlast.toml``'s ``[hooks]`` table (kind → import paths
    ``"package.module:function"``); a path that does not resolve is a ``ConfigError``
    naming its key. Declaring again replaces what an earlier call declared."""
    unknown = set(declared) - set(KINDS)
    if unknown:
        raise ConfigError(f"{where}: unknown hook(s) {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(KINDS)})")
    resolved = {kind: [resolve(path, f"{where} {kind}") for path in paths]
                for kind, paths in declared.items()}
    for kind in KINDS:
        _in_config[kind] = resolved.get(kind, [])
    _counted()


def declare_from(spec: Mapping[str, Any] | None) -> None:
    """``declare`` what ``Config.task_defaults()["hooks"]`` holds (nothing when None)."""
    if spec:
        declare(spec["declared"], spec["where"])


def resolve(path: str, key: str) -> Hook:
    """The function at ``"package.module:function"``."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"{key}: {path!r} is not an import path like 'package.module:function'")
    try:
        found: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except ImportError as exc:
        raise ConfigError(f"{key}: cannot import {path!r}: {exc}") from None
    except AttributeError:
        raise ConfigError(f"{key}: {module_name!r} has no {attribute!r} (from {path!r})") from None
    if not callable(found):
        raise ConfigError(f"{key}: {path!r} is not a function")
    return found  # type: ignore[no-any-return]


__all__ = ["KINDS", "WaitInfo", "cleanup", "clear", "declare", "handle_error", "init",
           "middleware", "on_complete", "on_failure", "on_resume", "on_start", "on_success",
           "on_wait", "registered"]
