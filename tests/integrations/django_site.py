"""The test shop (tests/django_project) set up in this process, on the test's database.

Django is configured once per process, from the shop's own settings module; each test
then points the ``default`` database at its fresh store (SQLite file or PostgreSQL
database) and has the shop's table created there, and the Outlast client is configured
from the settings again, as the app's ``ready()`` does.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent / "django_project"


def set_up_django() -> None:
    """``django.setup()`` with the shop's settings (once: Django cannot be set up twice)."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    module = importlib.import_module("shop_site.settings")
    settings.configure(**{k: getattr(module, k) for k in dir(module) if k.isupper()})
    django.setup()


def use_database(url: str) -> None:
    """Point Django's ``default`` database at ``url`` (connections closed and forgotten)."""
    from django.conf import settings
    from django.db import connections
    from shop_site.databases import database

    connections.close_all()
    configured = connections.configure_settings({"default": database(url)})
    connections.settings["default"] = settings.DATABASES["default"] = configured["default"]
    del connections["default"]


@contextmanager
def shop_tables() -> Iterator[None]:
    """The shop's ``Order`` table for one test (Django's migrations are not the point)."""
    from django.db import connection
    from shop.models import Order

    with connection.schema_editor() as editor:
        editor.create_model(Order)
    try:
        yield
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(Order)
        connection.close()


def count(table: str) -> int:
    """Rows in ``table``, read with Django's connection outside any transaction."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        row: Any = cursor.fetchone()
        return int(row[0])
