"""Where a project's tables live in PostgreSQL: a database, and optionally a schema in it.

Several projects can share one PostgreSQL database by each naming its own schema in the
URL, ``postgresql://host/outlast?schema=billing``. Every connection of that project then
sets ``search_path`` to the schema, so its runs, API keys, schedules and queues are tables
the other projects never see: a key minted for one project finds nothing in another.
``LISTEN/NOTIFY`` channels are database-wide, so their names carry the schema too; a busy
project never wakes another's workers.

``schema`` is not a libpq parameter, so it is taken out of the URL before connecting;
the rest of the URL (host, user, ``sslmode``, ``options``…) goes to psycopg untouched.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from urllib.parse import unquote

from psycopg import Error as PsycopgError
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from outlast.errors import ConfigError

#: lower-case, unquoted identifiers only, so the name needs no quoting anywhere and
#: ``billing`` and ``Billing`` cannot become two different projects by accident. At most
#: 47 characters: a channel name (``schema:outlast_changed``…) must stay under 64 bytes.
_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,46}")
DEFAULT_SCHEMA = "public"


@dataclass(frozen=True)
class PostgresTarget:
    conninfo: str
    schema: str | None  # None: ``public``, the database's own

    def channel(self, name: str) -> str:
        """The database-wide channel name for this project's ``name``."""
        return f"{self.schema}:{name}" if self.schema else name

    def channel_json(self, name: str) -> str:
        """``channel(name)`` as a JSON string (in a statement's notifications,
        ``Outbox.take``), written once per channel: there are a handful."""
        return _channel_json(self.schema, name)

    def local_channel(self, channel: str) -> str:
        """The project's name for a channel heard on the wire (it LISTENs only on its own)."""
        return channel.removeprefix(f"{self.schema}:") if self.schema else channel


@functools.cache
def _channel_json(schema: str | None, name: str) -> str:
    return json.dumps(f"{schema}:{name}" if schema else name, ensure_ascii=False)


def parse_target(url: str) -> PostgresTarget:
    """Split ``?schema=NAME`` off a PostgreSQL URL; ConfigError for a bad name.

    The rest of the URL is kept byte for byte (no decoding and re-encoding: libpq reads
    ``%20`` but not ``+``, and a socket URL's empty host must keep its ``//``). Without a
    schema the search path is still pinned to ``public``: PostgreSQL's default,
    ``"$user", public``, would find another project's tables in a schema that happens to
    be named after the database user.
    """
    base, _, query = url.partition("?")
    pairs = [p for p in query.split("&") if p] if query else []
    schemas = [unquote(p.partition("=")[2]) for p in pairs if p.partition("=")[0] == "schema"]
    rest = "&".join(p for p in pairs if p.partition("=")[0] != "schema")
    bare = f"{base}?{rest}" if rest else base
    if len(schemas) > 1:
        raise ConfigError(f"database_url names more than one schema: {schemas}")
    schema = schemas[0] if schemas else DEFAULT_SCHEMA
    if not _SCHEMA.fullmatch(schema) or schema.startswith("pg_"):
        raise ConfigError(
            f"database_url schema {schema!r} is not a valid name: use lower-case letters, "
            "digits and underscores, starting with a letter or underscore, at most 47, "
            "not starting with pg_")
    try:
        conninfo = _with_search_path(bare, schema)
    except PsycopgError as exc:
        raise ConfigError(f"database_url is not a valid PostgreSQL URL: {exc}") from exc
    return PostgresTarget(conninfo, None if schema == DEFAULT_SCHEMA else schema)


def _with_search_path(url: str, schema: str) -> str:
    """``url`` with ``-c search_path=schema`` after any ``options`` it already has; a
    search path the URL sets itself is kept when no schema was asked for."""
    existing = conninfo_to_dict(url).get("options") or ""
    if schema == DEFAULT_SCHEMA and "search_path" in str(existing):
        return url
    options = f"{existing} -c search_path={schema}".strip()
    return make_conninfo(url, options=options)
