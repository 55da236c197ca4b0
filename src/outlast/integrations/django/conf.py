"""``settings.OUTLAST``: where Outlast's database is, read once from Django's settings.

    OUTLAST = {
        "DATABASE": "default",     # the Django database that holds Outlast's tables
        "DATABASE_URL": "…",       # or Outlast's own database, when it is not one of Django's
        "ENVIRONMENT": "prod",     # default: OUTLAST_ENVIRONMENT, else "dev"
    }

With ``DATABASE``, Outlast reaches that database with the connection settings Django
already has (``ENGINE``, ``NAME``, ``USER``…), so they are written once; ``trigger`` then
writes runs through Django's connection, inside the current ``atomic()`` block. With both,
``DATABASE_URL`` says how Outlast connects (to add ``?schema=``, say) and ``DATABASE``
which Django database is that same one. With neither, nothing is configured here: the
usual ``OUTLAST_*`` environment variables apply, as outside Django.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from outlast.config import ENVIRONMENTS

KEYS = ("DATABASE", "DATABASE_URL", "ENVIRONMENT")
#: Django's own keys in a PostgreSQL database's OPTIONS, which libpq would not understand
DJANGO_OPTIONS = {"isolation_level", "server_side_binding", "pool", "assume_role",
                  "cursor_factory", "context", "prepare_threshold"}


@dataclass(frozen=True)
class OutlastSettings:
    #: the Django database alias holding Outlast's tables (None: Outlast's database is
    #: not one of Django's)
    database: str | None
    #: Outlast's database (None: configured outside Django, by ``OUTLAST_*`` variables)
    database_url: str | None
    environment: str


def read() -> OutlastSettings:
    """``settings.OUTLAST``, checked: ``ImproperlyConfigured`` names what is wrong."""
    given: Any = getattr(settings, "OUTLAST", {})
    if not isinstance(given, dict):
        raise ImproperlyConfigured(f"settings.OUTLAST must be a dict, got {given!r}")
    unknown = sorted(set(given) - set(KEYS))
    if unknown:
        raise ImproperlyConfigured(f"settings.OUTLAST: unknown key(s) {', '.join(unknown)}; "
                                   f"the keys are {', '.join(KEYS)}")
    database = given.get("DATABASE")
    if database is not None and database not in settings.DATABASES:
        raise ImproperlyConfigured(f"settings.OUTLAST['DATABASE'] is {database!r}, which is "
                                   f"not in settings.DATABASES ({', '.join(settings.DATABASES)})")
    url = given.get("DATABASE_URL") or (database_url(database) if database else None)
    environment = given.get("ENVIRONMENT") or os.environ.get("OUTLAST_ENVIRONMENT") or "dev"
    if environment not in ENVIRONMENTS:
        raise ImproperlyConfigured(f"settings.OUTLAST['ENVIRONMENT'] is {environment!r}; "
                                   f"use one of {', '.join(ENVIRONMENTS)}")
    return OutlastSettings(database, url, environment)


def database_url(alias: str) -> str:
    """Outlast's URL for the Django database ``alias`` (PostgreSQL or SQLite)."""
    wrapper = connections[alias]
    vendor, params = wrapper.vendor, wrapper.settings_dict
    if vendor == "sqlite":
        return _sqlite_url(alias, params)
    if vendor == "postgresql":
        return _postgres_url(params)
    raise ImproperlyConfigured(f"settings.OUTLAST['DATABASE'] is {alias!r}, a {vendor} "
                               "database: Outlast runs on PostgreSQL or SQLite")


def _sqlite_url(alias: str, params: dict[str, Any]) -> str:
    name = str(params.get("NAME") or "")
    if name in ("", ":memory:") or name.startswith("file:"):
        raise ImproperlyConfigured(f"settings.OUTLAST['DATABASE']: database {alias!r} is not "
                                   "a file (Outlast's workers must open it too); set NAME "
                                   "to a path")
    return f"sqlite:///{os.path.abspath(name)}"


def _postgres_url(params: dict[str, Any]) -> str:
    """A ``postgresql://`` URL with what Django would give libpq (host, port, user,
    password, database name and the libpq ``OPTIONS``)."""
    user = quote(str(params.get("USER") or ""), safe="")
    password = quote(str(params.get("PASSWORD") or ""), safe="")
    host = str(params.get("HOST") or "")
    port = str(params.get("PORT") or "")
    query = {k: str(v) for k, v in (params.get("OPTIONS") or {}).items()
             if k not in DJANGO_OPTIONS and v is not None}
    if host.startswith("/"):  # a socket directory: no place for it in the URL's authority
        query.update({"host": host, **({"port": port} if port else {})})
        host = port = ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    netloc = f"{auth}{host}{':' + port if port else ''}"
    name = quote(str(params.get("NAME") or ""), safe="")
    tail = f"?{urlencode(query, quote_via=quote)}" if query else ""
    return f"postgresql://{netloc}/{name}{tail}"
