"""``outlast dev``: everything on one laptop, in one command, with no network.

SQLite in ``.outlast/``, the API and dashboard, the scheduler, one worker and hot
reload. It writes ``.outlast/dev.env`` so that clients started in the project need no
configuration at all, and prints its banner once the worker registered the tasks, so a
trigger typed after it always finds them.
"""

from __future__ import annotations

import socket

import click

from outlast.cli.common import open_engine, project_config, require_task_dirs
from outlast.cli.devenv import (
    DEV_ENVIRONMENT,
    DevLock,
    dev_api_key,
    make_database_private,
    prepare_state_dir,
    write_dev_env,
)
from outlast.cli.devsession import DevSession, worker_ready_reason
from outlast.cli.output import redact_url
from outlast.cli.serving import (
    bind_socket,
    dev_hosts,
    public_url,
    setup_logging,
    uvicorn_server,
)
from outlast.config import Config
from outlast.engine import Engine
from outlast.worker import DEFAULT_ASYNC_SLOTS


@click.command(short_help="Server, scheduler and worker in one process.")
@click.option("--port", type=click.IntRange(0, 65535), default=8030, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--concurrency", type=click.IntRange(1), default=4, show_default=True,
              help="Processes executing runs (a sync task's run takes one).")
@click.option("--async-slots", type=click.IntRange(1), default=DEFAULT_ASYNC_SLOTS,
              show_default=True,
              help="Runs of async tasks one process runs at once (1: each alone).")
@click.option("--no-reload", is_flag=True, help="Do not reload task modules when they change.")
@click.option("--grace", type=float, default=30.0, show_default=True,
              help="Seconds running attempts get to finish on Ctrl-C.")
def dev(port: int, host: str, concurrency: int, async_slots: int, no_reload: bool,
        grace: float) -> None:
    """Run the server, scheduler and a worker locally, reloading tasks on change."""
    config = project_config(required=True)
    require_task_dirs(config)
    state = config.state_dir()
    prepare_state_dir(state)
    lock = DevLock(state)
    lock.acquire()  # before the port: a second server is told where the first one runs
    sock = bind_socket(host, port)
    port = sock.getsockname()[1]
    make_database_private(config.database_url, state)
    engine = open_engine(config)
    key = dev_api_key(engine, state / "dev.env")
    url = public_url(host, port)
    # token callback URLs point here unless the user says where the server is reached
    engine.public_url = config.public_url or url
    write_dev_env(state / "dev.env", url, key)
    lock.record(url)
    setup_logging()
    session = build_session(config, engine, sock, host, port, key, concurrency=concurrency,
                            reload=not no_reload, grace=grace, async_slots=async_slots)
    session.on_ready = lambda: banner(config, url, key, reload=not no_reload)
    session.write_env = lambda: write_dev_env(state / "dev.env", url, key)
    try:
        raise SystemExit(session.run())
    finally:
        lock.release()


def build_session(config: Config, engine: Engine, sock: socket.socket, host: str, port: int,
                  key: str, *, concurrency: int, reload: bool, grace: float,
                  async_slots: int) -> DevSession:
    # Imported here: the server and worker pull in more than the other commands need.
    from outlast.server.app import create_app
    from outlast.worker.supervisor import Supervisor

    supervisor = Supervisor(engine, environment=DEV_ENVIRONMENT, task_dirs=list(config.dirs),
                            root=config.root, concurrency=concurrency,
                            task_defaults=config.task_defaults(), grace=grace,
                            # With hot reload a module that fails to import is fixed and
                            # saved again; the tasks of the other modules keep running.
                            exit_on_import_error=not reload, dev=True,
                            async_slots=async_slots)
    app = create_app(engine, dev_api_key=key, project=config.project, secret=config.secret,
                     allowed_hosts=dev_hosts(host),
                     readiness=lambda: worker_ready_reason(supervisor),
                     metrics_public=config.metrics_public, cors_origins=config.cors_origins)
    server = uvicorn_server(app, host, port, access_log=False, log_level="warning")
    return DevSession(config, server, supervisor, sock, reload=reload, grace=grace)


def banner(config: Config, url: str, key: str, *, reload: bool) -> None:
    click.secho(f"Outlast dev server for {config.project!r}", bold=True)
    click.echo(f"  dashboard  {url}/")
    click.echo(f"  API        {url}/api/v1")
    click.echo(f"  API key    {key}")
    click.echo(f"  database   {redact_url(config.database_url)}")
    click.echo(f"  tasks      {', '.join(config.dirs)}" + ("  (reloading on change)" if reload
                                                           else ""))
    click.echo("Clients in this project read .outlast/dev.env. Ctrl-C to stop.\n")
