"""``outlast server``: the API, dashboard and scheduler, for production.

Workers run separately (``outlast worker``) so that the two scale apart. Any number of
servers may share one PostgreSQL database: the scheduler leads in exactly one of them.
"""

from __future__ import annotations

import click

from outlast.cli.common import database_url_option, open_engine, project_config
from outlast.cli.output import note, redact_url
from outlast.cli.serving import (
    bind_socket,
    public_url,
    server_hosts,
    setup_logging,
    stop_signals,
    uvicorn_server,
)
from outlast.config import Config
from outlast.sdk.registry import Registry


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (0.0.0.0 for all).")
@click.option("--port", type=click.IntRange(0, 65535), default=8030, show_default=True)
@database_url_option
@click.option("--import-tasks", is_flag=True,
              help="Import the task modules too, to validate typed payloads in the server.")
@click.option("--no-scheduler", is_flag=True, help="Serve the API only; run no scheduler.")
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="Log a line per request; at full load it takes about a tenth of "
                   "the trigger rate, so it is off unless asked for.")
def server(host: str, port: int, database_url: str | None, import_tasks: bool,
           no_scheduler: bool, access_log: bool) -> None:
    """Run the HTTP API, dashboard and scheduler."""
    from outlast.server.app import create_app

    config = project_config(database_url)
    sock = bind_socket(host, port)
    engine = open_engine(config)
    registry = task_registry(config) if import_tasks else None
    setup_logging()
    app = create_app(engine, registry=registry, scheduler=not no_scheduler,
                     project=project_name(config), secret=config.secret,
                     allowed_hosts=server_hosts(config), public_url=config.public_url,
                     metrics_public=config.metrics_public, cors_origins=config.cors_origins)
    http = uvicorn_server(app, host, sock.getsockname()[1], access_log=access_log)
    note(started(config, public_url(host, sock.getsockname()[1])))
    with stop_signals(lambda: setattr(http, "should_exit", True), "outlast server",
                      "finishing open requests"):
        http.run(sockets=[sock])


def project_name(config: Config) -> str | None:
    """The project the dashboard names: ``outlast.toml``'s, none without a file.

    Without a file the name would only be the working directory's (``/app`` in a
    container), which says nothing about the project.
    """
    return config.project if config.source is not None else None


def started(config: Config, url: str) -> str:
    project = project_name(config)
    where = f" for project {project!r}" if project else ""
    return f"Outlast server{where} on {url} (database {redact_url(config.database_url)})"


def task_registry(config: Config) -> Registry:
    from outlast.cli.common import require_task_dirs
    from outlast.sdk.registry import default_registry, import_task_modules

    require_task_dirs(config)
    import_task_modules(list(config.dirs), config.root)
    return default_registry
