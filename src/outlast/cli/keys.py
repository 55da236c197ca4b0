"""``outlast keys``: API keys, each for one environment of one project.

A key is stored in its project's database (or its PostgreSQL schema, see
``store/postgres/target.py``), so it means nothing to another project.

Only a hash of a key is stored, so a key is printed once, when it is created; a lost
key is replaced, never recovered.
"""

from __future__ import annotations

import click

from outlast.cli.common import database_url_option, open_engine, project_config
from outlast.cli.output import fail, note, table, when
from outlast.config import ENVIRONMENTS
from outlast.engine.keys import list_keys, revoke_key
from outlast.errors import NotFoundError


@click.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--env", "environment", type=click.Choice(ENVIRONMENTS), required=True,
              help="The environment the key acts in.")
@database_url_option
def create(environment: str, database_url: str | None) -> None:
    """Create an API key and print it (it is shown only this once)."""
    config = project_config(database_url)
    engine = open_engine(config)
    try:
        key = engine.create_api_key(environment)
    finally:
        engine.store.close()
    click.echo(key)
    note(f"Created a {environment} key for project {config.project!r}. It is stored hashed "
         "and will not be shown again: keep it in your secrets manager and give it to "
         "clients as OUTLAST_API_KEY.")


@keys.command("list")
@click.option("--env", "environment", type=click.Choice(ENVIRONMENTS), default=None,
              help="Only this environment's keys.")
@database_url_option
def list_(environment: str | None, database_url: str | None) -> None:
    """List API keys (ids and prefixes; keys themselves are never stored)."""
    engine = open_engine(project_config(database_url))
    try:
        found = list_keys(engine, environment)
    finally:
        engine.store.close()
    if not found:
        note("no API keys")
        return
    rows = [[k["id"], k["environment"], k["prefix"] + "…", when(k["created_at"]),
             when(k["revoked_at"]) if k["revoked_at"] else "active"] for k in found]
    click.echo(table(["ID", "ENV", "PREFIX", "CREATED", "REVOKED"], rows))


@keys.command("revoke")
@click.argument("key", metavar="ID_OR_PREFIX")
@database_url_option
def revoke(key: str, database_url: str | None) -> None:
    """Revoke an API key by its id or prefix; it stops working within seconds."""
    engine = open_engine(project_config(database_url))
    try:
        revoke_key(engine, key)
    except NotFoundError as exc:
        fail(exc.message)
    finally:
        engine.store.close()
    note(f"revoked {key}")
