"""``DATABASES['default']`` from one URL (the tests hand each project a fresh database)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit


def database(url: str) -> dict[str, Any]:
    """Django's settings for ``sqlite:///path`` or ``postgresql://user@host:port/name``;
    every view runs in a transaction (``ATOMIC_REQUESTS``)."""
    if url.startswith("sqlite:///"):
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": url.removeprefix("sqlite:///"),
                "ATOMIC_REQUESTS": True,
                # writers take SQLite's lock at BEGIN: a transaction that read first can
                # otherwise fail to write when a worker wrote in between
                "OPTIONS": {"transaction_mode": "IMMEDIATE"}}
    parts = urlsplit(url)
    return {"ENGINE": "django.db.backends.postgresql", "NAME": parts.path.lstrip("/"),
            "USER": unquote(parts.username or ""), "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "", "PORT": str(parts.port or ""),
            "ATOMIC_REQUESTS": True}
