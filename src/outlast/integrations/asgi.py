"""Outlast inside an ASGI app (FastAPI, Starlette, …): its API and dashboard to mount
under a prefix, and a lifespan that runs a worker in the app's own process.

``outlast_app`` is the app ``outlast server`` serves, built from the project's
configuration (``outlast.toml`` and the ``OUTLAST_*`` variables, as the CLI reads them);
every link and redirect of the dashboard follows the prefix it is mounted under.

A mounted app's lifespan does not run by itself, so ``outlast_lifespan`` is the app's
lifespan instead: it runs the mounted app's own (upkeep, the realtime listener) and, for a
small deployment that wants no second process, a worker in a thread of this one: the same
supervisor as ``outlast worker``, forking its task processes from here. At shutdown the
worker drains as ``outlast worker`` does on SIGTERM: no new claims, running attempts get
``grace`` seconds, the rest go back to the queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from outlast.config import Config, load_config
from outlast.engine import Engine
from outlast.errors import ConfigError
from outlast.server.app import create_app
from outlast.store import open_store

__all__ = ["outlast_app", "outlast_lifespan"]

log = logging.getLogger("outlast.integrations.asgi")


def outlast_app(database_url: str | None = None, *, root: str | Path | None = None,
                environment: str | None = None, scheduler: bool = True,
                dev_api_key: str | None = None,
                allowed_hosts: frozenset[str] | None = None) -> Starlette:
    """The API (``/api/v1/…``), health checks and dashboard, to mount under a prefix.

    ``database_url`` and ``environment`` override the project's configuration, found in
    ``root`` (default: the working directory) or its parents; its ``OUTLAST_SECRET``,
    ``project``, ``public_url`` and ``cors_origins`` apply as for ``outlast server``.
    A SQLite database is brought up to date at once; PostgreSQL is migrated on purpose,
    with ``outlast migrate``. ``scheduler``: run upkeep in this process while it holds
    the lease (once ``outlast_lifespan`` runs the app's lifespan). ``dev_api_key`` opens
    the dashboard with no login, as ``outlast dev`` does: for development only.
    ``allowed_hosts`` defaults to any host: the app it is mounted in decides.
    """
    config = load_config(Path(root) if root is not None else None)
    config = config.with_database_url(database_url).with_environment(environment)
    store = open_store(config.database_url)
    if store.embedded:
        store.migrate()
    engine = Engine(store, settings=config.settings)
    app = create_app(engine, scheduler=scheduler, dev_api_key=dev_api_key,
                     project=config.project if config.source is not None else None,
                     secret=config.secret, allowed_hosts=allowed_hosts,
                     public_url=config.public_url, metrics_public=config.metrics_public,
                     cors_origins=config.cors_origins)
    app.state.outlast_config = config
    return app


def outlast_lifespan(outlast: Starlette, *, worker: bool = True, concurrency: int = 2,
                     queues: list[str] | None = None, grace: float = 30.0,
                     ) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A lifespan for the app ``outlast`` (an ``outlast_app``) is mounted in.

    It runs ``outlast``'s own lifespan and, with ``worker``, a worker of the project's
    tasks (its ``dirs``) with ``concurrency`` slots on ``queues`` (default: all), stopped
    with ``grace`` seconds for running attempts when the app shuts down. The database
    closes last.
    """
    config = _config_of(outlast)
    if worker:
        _require_task_dirs(config)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        engine: Engine = outlast.state.engine
        try:
            async with outlast.router.lifespan_context(outlast):
                if not worker:
                    yield
                    return
                running = InAppWorker(engine, config, concurrency, queues, grace)
                running.start()
                try:
                    yield
                finally:
                    await run_in_threadpool(running.stop)
        finally:
            await run_in_threadpool(engine.store.close)

    return lifespan


class InAppWorker:
    """``outlast worker``'s supervisor in a thread of the app's process."""

    def __init__(self, engine: Engine, config: Config, concurrency: int,
                 queues: list[str] | None, grace: float) -> None:
        from outlast.worker.supervisor import Supervisor

        self.grace = grace
        self.supervisor = Supervisor(
            engine, environment=config.environment, task_dirs=list(config.dirs),
            root=config.root, concurrency=concurrency, task_defaults=config.task_defaults(),
            queues=queues or None, grace=grace)
        self._thread = threading.Thread(target=self._run, name="outlast-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self.supervisor.run()
        except Exception:  # the app keeps serving; its runs were handed back
            log.exception("the in-app worker stopped on an error")

    def stop(self) -> None:
        """Drain: no new claims, ``grace`` for running attempts, the rest handed back."""
        self.supervisor.request_stop()
        self._thread.join(self.grace + 30.0)
        if self._thread.is_alive():
            log.warning("the in-app worker did not stop within %.0fs", self.grace + 30.0)


def _config_of(outlast: Starlette) -> Config:
    config = getattr(outlast.state, "outlast_config", None)
    if not isinstance(config, Config):
        raise ConfigError("outlast_lifespan() takes the app outlast_app() returned")
    return config


def _require_task_dirs(config: Config) -> None:
    missing = [d for d, path in zip(config.dirs, config.task_dirs(), strict=True)
               if not path.is_dir()]
    if missing:
        raise ConfigError(
            f"task directories {', '.join(repr(d) for d in missing)} not found under "
            f"{config.root}: set `dirs` in outlast.toml, or outlast_lifespan(worker=False)")
