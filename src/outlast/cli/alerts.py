"""``outlast alerts``: where an environment's failure webhooks go.

When a run ends FAILED, CRASHED or TIMED_OUT, the server POSTs a JSON body signed with
HMAC-SHA256 (header ``X-Outlast-Signature: sha256=<hex>``) to the environment's URL,
retrying with backoff. ``OUTLAST_ALERT_WEBHOOK_URL`` sets one URL for environments that
have none here.
"""

from __future__ import annotations

import click

from outlast.cli.common import database_url_option, open_engine, project_config
from outlast.cli.output import fail, note, table, when
from outlast.config import ENVIRONMENTS
from outlast.engine.alerts import Alerts

_ENV = click.option("--env", "environment", type=click.Choice(ENVIRONMENTS), required=True,
                    help="The environment whose failures are reported.")


@click.group()
def alerts() -> None:
    """Failure webhooks per environment."""


@alerts.command("set")
@_ENV
@click.argument("url")
@click.option("--secret", default=None, help="Signing secret (default: a new random one).")
@database_url_option
def set_(environment: str, url: str, secret: str | None, database_url: str | None) -> None:
    """Send ENV's failure alerts to URL; prints the signing secret."""
    if not url.startswith(("http://", "https://")):
        fail("the webhook URL must start with http:// or https://", 2)
    engine = open_engine(project_config(database_url))
    try:
        click.echo(Alerts(engine).set_webhook(environment, url, secret))
    finally:
        engine.store.close()
    note(f"{environment} failures now go to {url}; verify X-Outlast-Signature with the "
         "secret above")


@alerts.command("remove")
@_ENV
@database_url_option
def remove(environment: str, database_url: str | None) -> None:
    """Stop sending ENV's failure alerts (the environment variable still applies)."""
    engine = open_engine(project_config(database_url))
    try:
        removed = Alerts(engine).remove_webhook(environment)
    finally:
        engine.store.close()
    note(f"removed {environment}'s webhook" if removed else f"{environment} had no webhook")


@alerts.command("list")
@click.option("--env", "environment", type=click.Choice(ENVIRONMENTS), default=None,
              help="Also show this environment's recent deliveries.")
@database_url_option
def list_(environment: str | None, database_url: str | None) -> None:
    """Show the webhooks, and with --env the recent deliveries."""
    engine = open_engine(project_config(database_url))
    try:
        hooks = Alerts(engine).list_webhooks()
        sent = Alerts(engine).history(environment) if environment else []
    finally:
        engine.store.close()
    click.echo(table(["ENV", "URL"], [[h["environment"], h["url"]] for h in hooks]))
    if sent:
        click.echo(table(["RUN", "ATTEMPTS", "DELIVERED", "LAST ERROR"], [
            [a["run_id"], str(a["attempts"]), when(a["delivered_at"]) if a["delivered_at"]
             else "pending", a["last_error"] or ""] for a in sent]))
