"""What several commands share: options, the project's config, an engine, a client."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from outlast.errors import ConfigError

if TYPE_CHECKING:  # loaded by the commands that make a client, not by `outlast worker`
    from outlast.config import Config
    from outlast.engine import Engine
    from outlast.sdk.client import Client

F = TypeVar("F", bound=Callable[..., Any])


def database_url_option(fn: F) -> F:
    return click.option(
        "--database-url", metavar="URL",
        help="sqlite:///path or postgresql://…; overrides the config and OUTLAST_DATABASE_URL.",
    )(fn)


def client_options(fn: F) -> F:
    fn = click.option("--api-key", metavar="KEY",
                      help="API key (default: OUTLAST_API_KEY or .outlast/dev.env).")(fn)
    return click.option("--url", metavar="URL",
                        help="Server URL (default: OUTLAST_API_URL or .outlast/dev.env).")(fn)


def project_config(database_url: str | None = None, *, required: bool = False) -> Config:
    # loaded here, not with the module: `outlast worker` starts its fork server first
    from outlast.config import load_config

    return load_config(required=required).with_database_url(database_url)


def open_engine(config: Config) -> Engine:
    """An engine on the configured database.

    SQLite is embedded and private to the project, so it is brought up to date on the
    spot; a shared PostgreSQL is migrated on purpose, with ``outlast migrate``.
    """
    # loaded here, not with the module: `outlast worker` starts its fork server first
    from outlast.engine import Engine
    from outlast.store import open_store

    store = open_store(config.database_url)
    if store.embedded:
        store.migrate()
    return Engine(store, settings=config.settings)


def require_task_dirs(config: Config) -> None:
    missing = [d for d, path in zip(config.dirs, config.task_dirs(), strict=True)
               if not path.is_dir()]
    if missing:
        raise ConfigError(
            f"task director{'y' if len(missing) == 1 else 'ies'} "
            f"{', '.join(repr(d) for d in missing)} not found under {config.root} "
            "(set `dirs` in outlast.toml, or run `outlast init`)"
        )


@contextmanager
def client_session(url: str | None, api_key: str | None) -> Iterator[Client]:
    """``make_client`` for one command, closed after it (with the database connection a
    client bound to a database opened)."""
    client = make_client(url, api_key)
    try:
        yield client
    finally:
        client.close()


def make_client(url: str | None, api_key: str | None) -> Client:
    """A client configured like the default one, with command-line flags on top.

    ``.outlast/dev.env`` is also looked up at the project root, so commands work from
    any subdirectory of a project while ``outlast dev`` runs.
    """
    from outlast.sdk.client import Client, resolve_settings

    if url:
        return Client(url=url, api_key=api_key or os.environ.get("OUTLAST_API_KEY"))
    settings: dict[str, str] = _project_dev_env() or resolve_settings()
    if api_key and "url" in settings:
        settings["api_key"] = api_key
    return Client(**settings)  # type: ignore[arg-type]


def _project_dev_env() -> dict[str, str] | None:
    if os.environ.get("OUTLAST_API_URL"):
        return None
    from outlast.config import load_config

    try:
        config = load_config()
    except ConfigError:
        return None
    dev_env = config.state_dir() / "dev.env"
    if config.source is None or not dev_env.is_file():
        return None
    from outlast.sdk.client import read_env_file

    values = read_env_file(dev_env)
    if not values.get("OUTLAST_API_URL"):
        return None
    return {"url": values["OUTLAST_API_URL"], "api_key": values.get("OUTLAST_API_KEY", "")}


def relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
