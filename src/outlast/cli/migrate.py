"""``outlast migrate``: bring a database's schema up to date.

Migrations are numbered and append-only, so running this again is always safe; deploys
run it before starting new servers and workers.
"""

from __future__ import annotations

import click

from outlast.cli.common import database_url_option, project_config
from outlast.cli.output import note, redact_url
from outlast.store import open_store


@click.command()
@database_url_option
def migrate(database_url: str | None) -> None:
    """Apply pending database migrations."""
    config = project_config(database_url)
    note(f"database: {redact_url(config.database_url)}")
    store = open_store(config.database_url)
    try:
        applied = store.migrate()
    finally:
        store.close()
    for name in applied:
        click.echo(f"applied {name}")
    if not applied:
        click.echo("database is up to date")
