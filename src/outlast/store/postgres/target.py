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

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from outlast.errors import ConfigError

#: lower-case, unquoted identifiers only, so the name needs no quoting anywhere and
#: ``billing`` and ``Billing`` cannot become two different projects by accident
_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")
DEFAULT_SCHEMA = "public"


@dataclass(frozen=True)
class PostgresTarget:
    conninfo: str
    schema: str | None  # None: the server's default search_path (normally ``public``)

    def channel(self, name: str) -> str:
        """The database-wide channel name for this project's ``name``."""
        return f"{self.schema}:{name}" if self.schema else name

    def local_channel(self, channel: str) -> str:
        """The project's name for a channel heard on the wire (it LISTENs only on its own)."""
        return channel.removeprefix(f"{self.schema}:") if self.schema else channel


def parse_target(url: str) -> PostgresTarget:
    """Split ``?schema=NAME`` off a PostgreSQL URL; ConfigError for a bad name."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "schema"]
    if not schemas:
        return PostgresTarget(url, None)
    if len(schemas) > 1:
        raise ConfigError(f"database_url names more than one schema: {schemas}")
    schema = schemas[0]
    if not _SCHEMA.fullmatch(schema):
        raise ConfigError(
            f"database_url schema {schema!r} is not a valid name: use lower-case letters, "
            "digits and underscores, starting with a letter or underscore, at most 63")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    bare = urlunsplit(parts._replace(query=rest))
    if schema == DEFAULT_SCHEMA:
        return PostgresTarget(bare, None)
    return PostgresTarget(_with_search_path(bare, schema), schema)


def _with_search_path(url: str, schema: str) -> str:
    """``url`` with ``-c search_path=schema`` added to any ``options`` it already has."""
    existing = conninfo_to_dict(url).get("options") or ""
    options = f"{existing} -c search_path={schema}".strip()
    return make_conninfo(url, options=options)
