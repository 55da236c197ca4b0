"""``idempotency_keys.create``: keys that make a trigger happen once per run, attempt or ever.

A ``"run"`` key is stable across the run's retries and replays, an ``"attempt"`` key
changes with each attempt, a ``"global"`` key is the same everywhere. The key is recorded
in the journal, so a replay gets the same value.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from outlast.core.durable_requests import Record
from outlast.errors import ValidationError
from outlast.sdk.durable import current_run

Scope = Literal["run", "attempt", "global"]


class _IdempotencyKeys:
    def create(self, key: str | list[str], scope: Scope = "run") -> str:
        parts = [key] if isinstance(key, str) else list(key)
        if not parts or not all(isinstance(p, str) and p for p in parts):
            raise ValidationError("an idempotency key is a non-empty string (or list of them)")
        if scope not in ("run", "attempt", "global"):
            raise ValidationError(f"scope must be 'run', 'attempt' or 'global', got {scope!r}")
        run = current_run.get()
        if scope == "global" or run is None:
            if scope != "global":
                raise ValidationError(f"scope {scope!r} needs a running task; use 'global'")
            return _digest(["global", *parts])
        owner = [run.run_id] if scope == "run" else [run.run_id, str(run.attempt)]
        value = _digest([scope, *owner, *parts])
        name = ":".join(parts)
        return str(run.call("idempotency_key", name,
                            lambda at: run.ask(Record(at, value))["result"]))


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


idempotency_keys = _IdempotencyKeys()
