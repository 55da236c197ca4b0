"""``outlast keys``: API keys, each for one environment of one project.

A key is stored in its project's database (or its PostgreSQL schema, see
``store/postgres/target.py``), so it means nothing to another project.

Only a hash of a key is stored, so a key is printed once, when it is created; a lost
key is replaced, never recovered. A key is ``full`` (everything), ``read`` (GET routes,
realtime, metrics, public tokens) or ``trigger`` (the trigger routes only); see
``core/key_scopes.py``.
"""

from __future__ import annotations

import click

from outlast.cli.common import database_url_option, open_engine, project_config
from outlast.cli.output import fail, note, table, when
from outlast.config import ENVIRONMENTS
from outlast.core.key_scopes import FULL, SCOPES
from outlast.engine.keys import list_keys, revoke_key
from outlast.errors import NotFoundError


@click.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--env", "environment", type=click.Choice(ENVIRONMENTS), required=True,
              help="The environment the key acts in.")
@click.option("--scope", type=click.Choice(SCOPES), default=FULL, show_default=True,
              help="What the key may do: everything, only read (runs, realtime, metrics, "
                   "public tokens), or only trigger runs.")
@database_url_option
def create(environment: str, scope: str, database_url: str | None) -> None:
    """Create an API key and print it (it is shown only this once)."""
    config = project_config(database_url)
    engine = open_engine(config)
    try:
        key = engine.create_api_key(environment, scope=scope)
    finally:
        engine.store.close()
    click.echo(key)
    kind = "" if scope == FULL else f"{scope}-only "
    note(f"Created a {kind}{environment} key for project {config.project!r}. It is stored hashed "
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
    rows = [[k["id"], k["environment"], k["scope"], k["prefix"] + "…", when(k["created_at"]),
             when(k["revoked_at"]) if k["revoked_at"] else "active"] for k in found]
    click.echo(table(["ID", "ENV", "SCOPE", "PREFIX", "CREATED", "REVOKED"], rows))


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
