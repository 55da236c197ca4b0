"""Typed per-attempt values: what a middleware or ``init`` makes and the task reads.

A ``LocalKey[T]`` names one value; ``ctx.locals`` holds this execution's values (a fresh,
empty store each time an attempt executes, so nothing leaks from one run to the next in a
warm worker process). The key's type parameter types ``get``; a key made with ``type=``
also checks values at ``set``.

    DB = LocalKey[Database]("db")

    def with_db(payload, ctx, next):
        with Database.connect() as db:
            ctx.locals.set(DB, db)          # or DB.set(db) inside the running attempt
            return next()

    @task(middleware=[with_db])
    def report(payload):
        return DB.get().query(...)          # typed: Database

Keys are compared by identity, not by name: two libraries may both call theirs "db".
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Generic, TypeVar, overload

from outlast.errors import ValidationError

T = TypeVar("T")
D = TypeVar("D")

_MISSING: Any = object()


class LocalKey(Generic[T]):
    """The name (and type) of one per-attempt value."""

    def __init__(self, name: str, type: type[T] | None = None) -> None:  # noqa: A002
        if not isinstance(name, str) or not name:
            raise ValidationError("LocalKey needs a non-empty name")
        self.name = name
        self.type = type

    def __repr__(self) -> str:
        return f"LocalKey({self.name!r})"

    def get(self) -> T:
        """This key's value in the running attempt (``LookupError`` when not set)."""
        return current_locals().get(self)

    def set(self, value: T) -> None:
        """Set this key's value in the running attempt."""
        current_locals().set(self, value)


class Locals:
    """One execution's values, by key. Made by the worker for each attempt it runs."""

    def __init__(self) -> None:
        self._values: dict[LocalKey[Any], Any] = {}

    def set(self, key: LocalKey[T], value: T) -> None:
        if key.type is not None and not isinstance(value, key.type):
            raise ValidationError(f"local {key.name!r} holds {key.type.__name__}, "
                                  f"got {type(value).__name__}")
        self._values[key] = value

    @overload
    def get(self, key: LocalKey[T]) -> T: ...

    @overload
    def get(self, key: LocalKey[T], default: D) -> T | D: ...

    def get(self, key: LocalKey[T], default: Any = _MISSING) -> Any:
        if key in self._values:
            return self._values[key]
        if default is not _MISSING:
            return default
        raise LookupError(f"local {key.name!r} is not set in this attempt (set it in init or "
                          "a middleware, before the task reads it)")

    def delete(self, key: LocalKey[Any]) -> None:
        self._values.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __repr__(self) -> str:
        return f"Locals({', '.join(k.name for k in self._values)})"


_current: ContextVar[Locals | None] = ContextVar("outlast_locals", default=None)


def current_locals() -> Locals:
    """The running attempt's locals; a clear error outside a running task."""
    found = _current.get()
    if found is None:
        from outlast.sdk.durable import DurableUsageError

        raise DurableUsageError("locals can only be used inside a running task")
    return found


def bind(values: Locals) -> Any:
    """Make ``values`` the running attempt's locals; returns the token to ``unbind``."""
    return _current.set(values)


def unbind(token: Any) -> None:
    _current.reset(token)
