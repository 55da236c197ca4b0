"""What an API key may do: everything (``full``), only read (``read``), or only trigger.

A key's scope is chosen when it is made (``outlast keys create --scope``) and never
changes; keys made before scopes existed are ``full``. Each API route says which scope it
needs (``api/routes.py``): GETs need ``read``, the trigger routes ``trigger``, everything
else ``full``. A ``full`` key passes every check; a ``read`` or ``trigger`` key only its own.

Deliberate edges, kept strict so a leaked narrow key does as little as possible:

- ``read`` covers the runs, tasks, queues, schedules and versions lists, realtime
  subscriptions, ``/metrics`` and minting public tokens (which only read). It does not
  cover the waitpoint-token reads and a run's journal: their answers carry token callback
  URLs, and a callback URL completes the token.
- ``trigger`` covers the three trigger routes and nothing else, not even reading the runs
  it made: a service that triggers and then waits needs a ``read`` key too (or a full one).
- The dashboard takes only ``full`` keys.
"""

from __future__ import annotations

from outlast.errors import InsufficientScopeError, ValidationError

FULL = "full"
READ = "read"
TRIGGER = "trigger"
SCOPES = (FULL, READ, TRIGGER)


def check_scope(scope: str) -> str:
    """``scope`` if it names a key scope, else ValidationError naming the valid ones."""
    if scope not in SCOPES:
        raise ValidationError(f"unknown API key scope {scope!r}: use one of "
                              f"{', '.join(SCOPES)}", field="scope")
    return scope


def allows(key_scope: str, needed: str) -> bool:
    return key_scope in (FULL, needed)


def require(key_scope: str, needed: str, what: str) -> None:
    """InsufficientScopeError (403) unless a ``key_scope`` key may do ``what``."""
    if not allows(key_scope, needed):
        raise InsufficientScopeError(
            f"{what} needs a {needed} API key; this key's scope is {key_scope}",
            needed=needed, scope=key_scope)
