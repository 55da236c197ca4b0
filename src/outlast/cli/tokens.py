"""``outlast tokens``: the waitpoint tokens runs are waiting on, and completing them."""

from __future__ import annotations

import click

from outlast.cli.common import client_options, client_session
from outlast.cli.output import note, status, table, to_json, when
from outlast.cli.trigger import parse_payload
from outlast.core.records import Token
from outlast.durations import parse_duration

_HEADERS = ("ID", "STATUS", "RUN", "TAGS", "TIMEOUT", "CREATED")


def _row(token: Token) -> list[str]:
    return [token.id, status(token.status), token.run_id or "-",
            ",".join(token.tags) or "-", when(token.timeout_at), when(token.created_at)]


@click.group()
def tokens() -> None:
    """Waitpoint tokens: list what runs wait on, complete one (human in the loop)."""


@tokens.command("list")
@click.option("--status", type=click.Choice(["PENDING", "COMPLETED"], case_sensitive=False),
              default="PENDING", show_default=True)
@click.option("--tag", metavar="TAG", help="Only tokens with this tag.")
@click.option("--run", "run_id", metavar="RUN_ID", help="Only tokens of this run.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@client_options
def list_tokens(status: str, tag: str | None, run_id: str | None, limit: int,
                url: str | None, api_key: str | None) -> None:
    """Tokens, newest first."""
    with client_session(url, api_key) as client:
        found = client.tokens.list(status=status.upper(), tag=tag, run_id=run_id, limit=limit)
    if not found:
        note("no tokens match")
        return
    click.echo(table(_HEADERS, [_row(t) for t in found]))


@tokens.command("complete")
@click.argument("token_id", metavar="ID")
@click.argument("output", metavar="[JSON]", required=False)
@client_options
def complete(token_id: str, output: str | None, url: str | None, api_key: str | None) -> None:
    """Complete a token with an optional JSON result ('-' reads it from stdin)."""
    value = parse_payload(output)
    with client_session(url, api_key) as client:
        token = client.tokens.complete(token_id, value)
    click.echo(f"{token.id} {status(token.status)}")


@tokens.command("create")
@click.option("--timeout", metavar="DURATION", help="e.g. 24h; the wait then ends in error.")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Repeatable.")
@click.option("--idempotency-key", metavar="KEY")
@client_options
def create(timeout: str | None, tags: tuple[str, ...], idempotency_key: str | None,
           url: str | None, api_key: str | None) -> None:
    """Create a token (its callback URL completes it with a POST, no API key needed)."""
    seconds = None if timeout is None else parse_duration(timeout, "timeout")
    with client_session(url, api_key) as client:
        token = client.tokens.create(seconds, list(tags), idempotency_key)
    click.echo(to_json(token.to_json()))
