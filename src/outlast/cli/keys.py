"""``outlast keys``: API keys, one environment each.

Only a hash of a key is stored, so a key is printed once, when it is created; a lost
key is replaced, never recovered.
"""

from __future__ import annotations

import click

from outlast.cli.common import database_url_option, open_engine, project_config
from outlast.cli.output import note
from outlast.config import ENVIRONMENTS


@click.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--env", "environment", type=click.Choice(ENVIRONMENTS), required=True,
              help="The environment the key acts in.")
@database_url_option
def create(environment: str, database_url: str | None) -> None:
    """Create an API key and print it (it is shown only this once)."""
    engine = open_engine(project_config(database_url))
    try:
        key = engine.create_api_key(environment)
    finally:
        engine.store.close()
    click.echo(key)
    note(f"Created a {environment} key. It is stored hashed and will not be shown again: "
         "keep it in your secrets manager and give it to clients as OUTLAST_API_KEY.")
