"""How the command line talks back: errors on stderr, results on stdout, plain tables.

Results go to stdout and everything else (notes, progress, errors) to stderr, so that
``RUN=$(outlast trigger report)`` captures just the run id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NoReturn

import click

STATUS_COLORS = {
    "COMPLETED": "green",
    "EXECUTING": "blue",
    "QUEUED": "cyan",
    "DELAYED": "cyan",
    "WAITING": "magenta",
    "PARKED": "yellow",
    "CANCELED": "yellow",
    "EXPIRED": "yellow",
}


def fail(message: str, code: int = 1) -> NoReturn:
    """One red ``error:`` line on stderr, then exit with ``code``."""
    click.secho(f"error: {message}", fg="red", err=True)
    raise click.exceptions.Exit(code)


def note(message: str) -> None:
    click.echo(message, err=True)


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def status(value: str) -> str:
    return click.style(value, fg=STATUS_COLORS.get(value, "red"))


def when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def clock_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).strftime("%H:%M:%S.%f")[:-3]


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.2f}s"
    minutes, secs = divmod(int(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns; widths ignore ANSI colour codes so styled cells line up."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(click.unstyle(cell)))

    def line(cells: Sequence[str]) -> str:
        padded = [c + " " * (widths[i] - len(click.unstyle(c))) for i, c in enumerate(cells)]
        return "  ".join(padded).rstrip()

    return "\n".join([line([click.style(h, bold=True) for h in headers]), *map(line, rows)])


def attributes(values: dict[str, Any] | None) -> str:
    if not values:
        return ""
    return " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in values.items())


def redact_url(url: str) -> str:
    """A database URL with any password hidden, safe to print.

    Both places a URL can carry one: its user info (``user:pw@host``) and a
    ``password=`` option in its query (``?password=pw``, any case).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    base, qmark, query = rest.partition("?")
    if "@" in base:
        credentials, _, host = base.rpartition("@")
        if ":" in credentials:
            base = f"{credentials.split(':', 1)[0]}:***@{host}"
    if qmark:
        query = _PASSWORD_OPTION.sub(r"\1***", query)
    return f"{scheme}://{base}{qmark}{query}"


_PASSWORD_OPTION = re.compile(r"((?:^|&)password=)[^&]*", re.IGNORECASE)
