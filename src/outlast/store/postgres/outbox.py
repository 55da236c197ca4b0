"""A PostgreSQL transaction's notifications, and how they reach the server.

``pg_notify`` is transactional: called anywhere inside a transaction, its message is
delivered at commit and dropped at rollback. So a transaction's notifications need not
wait for the end: a statement that takes a ``:notify`` parameter (``insert_runs``) sends
those collected so far itself, and a trigger is then one statement instead of two. What
is left over at the end goes as one ``NOTIFY_SQL`` statement.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from outlast.store.postgres.target import PostgresTarget

#: a statement holding this placeholder is given the notifications not sent yet, as a JSON
#: array of [channel, payload] pairs (``Outbox.take``); the caller never passes it
NOTIFY_PARAM = "notify"
_PLACEHOLDER = f"%({NOTIFY_PARAM})s"
#: a parameter whose name ends so names a channel the statement sends notes on itself
#: (``pg_notify``): the store gives the database-wide name (``PostgresTarget.channel``)
CHANNEL_SUFFIX = "_channel"
_CHANNEL_PARAM = re.compile(rf"%\((\w+{CHANNEL_SUFFIX})\)s")
#: a text as a JSON string: the notifications' JSON is written from it directly (an
#: encoder's ``encode`` sets itself up on every call, most of what two pairs cost)
_text = json.encoder.encode_basestring
#: the notifications left when the transaction ends
NOTIFY_SQL = "SELECT pg_notify(n ->> 0, n ->> 1) FROM json_array_elements(%s::json) AS n"


class Outbox:
    """Every notification of one transaction, and how many of them went to the server."""

    def __init__(self, target: PostgresTarget) -> None:
        self._target = target
        #: all of them, in order, once each: announced in process after the commit
        self.all: dict[tuple[str, str], None] = {}
        #: those not sent yet, in order
        self._pending: list[tuple[str, str]] = []

    def add(self, channel: str, payload: str) -> None:
        if (channel, payload) not in self.all:
            self.all[(channel, payload)] = None
            self._pending.append((channel, payload))

    def sent(self, channel: str, payload: str) -> None:
        """A notification a statement sent itself (``Tx.notified``): announced in process
        after the commit like the others, never sent again."""
        self.all.setdefault((channel, payload))

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def take(self) -> str:
        """The notifications not sent yet, as the JSON a ``:notify`` parameter takes;
        from now on they count as sent (their statement is on its way)."""
        notes, self._pending = self._pending, []
        channel = self._target.channel_json
        return f"[{','.join([f'[{channel(c)},{_text(p)}]' for c, p in notes])}]"

    def fill(self, sql: str, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with the pending notifications when ``sql`` carries them, and each
        channel a statement notifies itself (a parameter named ``*_channel``: the
        project's name of it) as the database-wide name."""
        named = _channel_params(sql)
        if named:
            params = {**params, **{k: self._target.channel(params[k]) for k in named}}
        if carries_notifications(sql):
            return {**params, NOTIFY_PARAM: self.take()}
        return params

    def fill_many(self, sql: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``rows`` for an ``executemany``: the first execution carries the notifications."""
        if not carries_notifications(sql):
            return rows
        return [self.fill(sql, rows[0]), *({**r, NOTIFY_PARAM: "[]"} for r in rows[1:])]


@functools.cache
def _channel_params(sql: str) -> tuple[str, ...]:
    """The channel parameters of ``sql`` (in the driver's style), found once per text: a
    trigger's statement has none, and pays one dictionary look-up to learn it."""
    return tuple(dict.fromkeys(_CHANNEL_PARAM.findall(sql)))


@functools.cache
def carries_notifications(sql: str) -> bool:
    """Whether ``sql`` (in the driver's parameter style) sends notifications itself."""
    return _PLACEHOLDER in sql
